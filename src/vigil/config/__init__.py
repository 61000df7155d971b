"""The settings file: loading and overrides in settings.py, each section with the room that owns it."""
