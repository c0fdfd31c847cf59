"""Studying Large Language Model Generalization with Influence Functions (Grosse et al., 2023)."""
