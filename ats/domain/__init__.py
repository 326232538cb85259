"""The domain: workflow definitions, candidacies, guards and events. No I/O here."""
