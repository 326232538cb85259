"""Adapters: database, files, templates, clock sources — the outside world."""
