"""TODO: the paper's title (aas_pinn)."""
