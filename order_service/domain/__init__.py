"""Orders and their rules, in plain Python: no framework, no database."""
