"""Importable test helpers (fixtures live in the conftest.py modules)."""
