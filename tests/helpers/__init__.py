"""Helpers shared by the unit, functional and reliability tests (not test modules)."""
