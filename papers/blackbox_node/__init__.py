"""Opening the Blackbox: Accelerating Neural Differential Equations by Regularizing Internal Solver
Heuristics (Pal et al., ICML 2021)."""
