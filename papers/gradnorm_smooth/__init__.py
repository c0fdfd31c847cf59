"""Gradient-Normalized Smoothness for Optimization with Approximate Hessians
(Semenov, Jaggi, Doikov; arXiv 2506.13710)."""
