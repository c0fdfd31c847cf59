"""How Powerful are Shallow Neural Networks with Bandlimited Random Weights? (arXiv 2008.08427)."""
