"""Health: probing, picture-quality diagnostics, KPIs, alarms and work orders."""
