"""The `station` command: the top floor, the only code that wires edge, duty, vision and tools.

Nothing below imports it; each sub-command imports its part lazily, so `station duty` never
loads torch and `station edge` never loads the database.
"""
