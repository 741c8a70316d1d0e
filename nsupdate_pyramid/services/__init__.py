"""Domain logic, free of ``request``: views and the CLI both call these."""
