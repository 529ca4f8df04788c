"""Verification of supports against the Lista Nominal (the compulsa) and the work that runs it."""
