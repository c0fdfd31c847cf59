"""Multi-scale Feature Learning Dynamics: Insights for Double Descent (Pezeshki et al., ICML 2022)."""
