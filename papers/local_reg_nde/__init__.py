"""Locally Regularized Neural Differential Equations: Some Black Boxes Were Meant to Remain Closed!
(Pal, Edelman & Rackauckas, ICML 2023)."""
