"""TODO: the paper's title (prose)."""
