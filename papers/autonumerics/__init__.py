"""AutoNumerics-Zero: evolved programs for 2^x / exp (Real et al., arXiv 2312.08472)."""
