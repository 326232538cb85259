"""The service layer: commands, their handlers, the unit of work and read queries."""
