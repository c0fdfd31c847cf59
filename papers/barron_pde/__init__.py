"""Neural Network Approximations of PDEs Beyond Linearity: A Representational Perspective (arXiv 2210.12101)."""
