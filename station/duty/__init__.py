"""cloud-duty: the registry, alerting, people and reports behind one FastAPI app."""
