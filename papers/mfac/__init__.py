"""M-FAC: Efficient Matrix-Free Approximations of Second-Order Information (Frantar et al., 2021)."""
