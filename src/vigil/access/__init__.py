"""Users, roles, region scopes, tokens and the tamper-evident audit log."""
