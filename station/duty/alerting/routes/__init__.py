"""Alerting's HTTP routes: alerts and their live feed, events, deliveries, rosters."""
