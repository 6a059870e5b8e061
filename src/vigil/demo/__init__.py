"""The demo city: a realistic county-level city modelled on the reference user."""
