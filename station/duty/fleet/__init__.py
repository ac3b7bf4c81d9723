"""The fleet: stations, their edge nodes, the node link (MQTT ingest) and remote commands."""
