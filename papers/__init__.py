"""Reproductions of 31 papers in numerical methods, optimization and scientific ML."""
