"""Shared ground floor: settings, database engine, clock. Imports nothing of ours."""
