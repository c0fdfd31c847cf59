"""M-FAC: Efficient Matrix-Free Approximations of Second-Order Information (Frantar, Kurtic, Alistarh, 2021)."""
