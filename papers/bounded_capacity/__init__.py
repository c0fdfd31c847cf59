"""Numerical Approximation Capacity of Neural Networks with Bounded Parameters (arXiv 2409.16697)."""
