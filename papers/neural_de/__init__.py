"""On Neural Differential Equations (Kidger, arXiv 2202.02435): reversible Heun and its adjoint."""
