"""DeepONet: Learning nonlinear operators for identifying differential equations based on the
universal approximation theorem of operators (Lu, Jin, Karniadakis; arXiv 1910.03193)."""
