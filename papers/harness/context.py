"""RunContext: what a paper's experiment.run(ctx) is handed."""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


def progress_enabled() -> bool:
    """Progress bars only for a person at a terminal, never under CI."""
    return sys.stderr.isatty() and not os.environ.get("CI")


@dataclass
class RunContext:
    """Tier, device, seed and output folder of one run, with progress bars and figure saving."""

    slug: str
    tier: str
    device: str
    seed: int
    out_dir: Path
    jobs: int = 1
    figures: list[str] = field(default_factory=list)

    def rng(self, stream: int = 0) -> np.random.Generator:
        """A numpy Generator seeded from this run's seed and `stream`."""
        return np.random.default_rng([self.seed, stream])

    def progress(self, iterable=None, total=None, desc=None, **kwargs):
        """A tqdm progress bar on stderr (silent when stderr is no terminal or under CI)."""
        from tqdm.auto import tqdm

        return tqdm(iterable, total=total, desc=desc or self.slug, disable=not progress_enabled(),
                    file=sys.stderr, leave=False, dynamic_ncols=True, **kwargs)

    def log(self, message: str) -> None:
        """One line on stderr, prefixed by the paper's slug."""
        print(f"[{self.slug}] {message}", file=sys.stderr, flush=True)

    def figure_path(self, name: str) -> Path:
        """Where figure `name` of this tier and device goes."""
        return self.out_dir / f"{self.tier}-{self.device}-{name}.png"

    def save_figure(self, fig, name: str) -> Path:
        """Save a matplotlib figure as PNG next to the run's record, close it, list it in the record."""
        import matplotlib.pyplot as plt

        self.out_dir.mkdir(parents=True, exist_ok=True)
        path = self.figure_path(name)
        fig.savefig(path, dpi=120, bbox_inches="tight")
        plt.close(fig)
        if path.name not in self.figures:
            self.figures.append(path.name)
        return path

    def synchronize(self) -> None:
        """Wait for queued GPU work (call before reading a clock); a no-op on CPU."""
        if self.device == "cuda":
            import torch

            torch.cuda.synchronize()
