"""The `ats` command line interface."""
