"""Beating the average: how to win the TOTO 13er Wette (arXiv 2303.16648)."""
