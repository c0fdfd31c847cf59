"""On discretisation drift and smoothness regularisation in neural network training (arXiv 2310.14036)."""
