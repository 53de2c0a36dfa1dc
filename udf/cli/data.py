"""Data commands: generate the synthetic labelled e-commerce data set."""

COMMANDS = []
