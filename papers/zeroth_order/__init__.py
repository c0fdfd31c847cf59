"""Zeroth-order optimisation against backprop (García Fernández, Ahmad, van Gerven, arXiv 2510.18812)."""
