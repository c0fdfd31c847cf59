"""Kaspschak & Meißner: A Neural Network Perturbation Theory Based on the Born Series (arXiv 2009.03192)."""
