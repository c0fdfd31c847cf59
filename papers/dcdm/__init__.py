"""TODO: the paper's title (dcdm)."""
