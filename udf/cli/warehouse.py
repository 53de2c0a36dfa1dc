"""Warehouse commands: generate synthetic data, load raw files, run the dbt build."""

COMMANDS = []
