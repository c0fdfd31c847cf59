"""Integrated mathematical modeling - artificial neural network (IMANN) for few data points
(arXiv 1911.03404)."""
