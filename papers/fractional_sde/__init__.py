"""Variational Inference for SDEs Driven by Fractional Noise (Daems et al., ICLR 2024)."""
