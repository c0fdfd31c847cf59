"""Neural Network Approximations of PDEs Beyond Linearity: A Representational Perspective (2210.12101)."""
