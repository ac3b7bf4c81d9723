"""Demo seed data for cloud-duty: a city of stations, visits, alerts and snapshots."""
