"""Config: config/ and COSTLEDGER_* into one validated `Settings` (settings.py), the cost rules
compiled (rules.py), and both written into the work database's `config.*` tables (tables.py)."""
