"""Ghosts of Softmax: Complex Singularities That Limit Safe Step Sizes in Cross-Entropy (ghosts_softmax)."""
