"""Development tools: demo, device simulator, local broker, seed data; not runtime code."""
