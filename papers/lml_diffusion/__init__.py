"""Unleashing High-Quality Image Generation in Diffusion Sampling Using Second-Order Levenberg-Marquardt-Langevin (Wang, Yin et al., 2025)."""
