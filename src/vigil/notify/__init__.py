"""Outbound notifications (signed webhooks), shared by health alarms and analytics events."""
