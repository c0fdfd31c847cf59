"""AnyLoss: Transforming Classification Metrics into Loss Functions (arXiv 2405.14745)."""
