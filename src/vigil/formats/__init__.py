"""Pure functions from typed results to wire formats and back. Every wire format is built here only."""
