"""Video: recording without re-encoding, retention, audited retrieval and export, live view."""
