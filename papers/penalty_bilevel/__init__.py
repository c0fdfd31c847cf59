"""On Penalty Methods for Nonconvex Bilevel Optimization and First-Order Stochastic Approximation
(Kwon, Kwon, Wright, Nowak; arXiv 2309.01753)."""
