"""Small helpers with no domain knowledge: files, YAML, the clock, where shipped files live."""
