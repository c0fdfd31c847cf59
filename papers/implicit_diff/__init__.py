"""Efficient and Modular Implicit Differentiation (Blondel et al., arXiv 2105.15183)."""
