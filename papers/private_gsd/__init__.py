"""Generating Private Synthetic Data with Genetic Algorithms (Private-GSD; Liu et al., ICML 2023)."""
