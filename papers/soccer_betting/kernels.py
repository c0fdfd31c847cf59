"""Timed kernels of the TOTO model."""
from papers.harness import kernel
from papers.soccer_betting.method import success_probability, tips_required


@kernel(params={"strikes": [10, 12]})
def exact_success_probability(strikes, device):
    """Tips needed at Q = 99.99 % for p = 1/3 and their exact hypergeometric success probability."""
    return lambda: success_probability(tips_required(1 / 3, strikes, 0.9999), 1 / 3, strikes)
