"""Faster Rates of Convergence to Stationary Points in Differentially Private Optimization
(Arora, Bassily, Gonzalez, Guzman, Menart, Ullah; arXiv 2206.00846)."""
