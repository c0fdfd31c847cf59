"""Levenberg-Marquardt-Langevin diffusion sampling (Wang, Yin et al., arXiv 2505.24222)."""
