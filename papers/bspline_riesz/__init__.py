"""On the matrices in B-spline collocation methods for Riesz fractional equations (arXiv 2106.14834)."""
