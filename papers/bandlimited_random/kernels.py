"""Timed core operation: drawing a bandlimited random hidden layer and fitting its output weights."""
from papers.harness import kernel


@kernel(params={"width": [100, 500]})
def fit_random_net(width, device):
    """Random sigmoid features (lambda = 50) on 1000 points and their least-squares output weights."""
    import numpy as np

    from papers.bandlimited_random.method import fit_output_weights, multiscale_target, random_features

    rng = np.random.default_rng(0)
    x = rng.uniform(0.0, 1.0, 1000)
    y = multiscale_target(x)
    return lambda: fit_output_weights(random_features(x, width, 50.0, rng), y)
