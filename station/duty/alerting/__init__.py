"""Alerting: events fold into alerts, which reach the people on duty and escalate."""
