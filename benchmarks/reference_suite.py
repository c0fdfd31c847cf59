"""asv benchmarks of our methods against the reference implementations a user would otherwise
reach for, generated from each paper's reference.py: adding a pair needs no code here.

A paper's reference.py declares `PAIRS = {name: (factory, params)}`: `factory(*params)` returns
`(ours, reference)`, two zero-argument callables doing the same work on the same inputs, already
warmed up; `params` are asv parameters as in a kernel (`{"n": [200]}`). For each pair
`Reference_<slug>` has:
- `time_<name>(*params, side)`: one call of `side` ("ours" or "reference"), synchronised like a
  kernel;
- `track_<name>_ratio(*params)`: the median of `ROUNDS` interleaved per-round ratios of seconds
  ours / reference (papers.common.timing.interleaved_ratios), lower is better: the history shows
  when we fall behind the reference.
Both run on CPU under the paper's thread limit. The reference packages are the optional
`reference` dependencies; a paper whose reference.py does not import gets no class (a message
says why), so a missing extra skips these benchmarks and nothing else.

The compiled solvers of papers/common declare their pairs the same way in
`benchmarks/solver_pairs.py`, with `THREADS` for the thread limit; their class is
`Reference_solvers`.
"""

import contextlib
import importlib
import importlib.util
import inspect
import statistics
import sys

from papers.harness import registry

from . import solver_pairs
from .versioning import version_of

ROUNDS = 15
SIDES = ["ours", "reference"]


def reference_module(slug: str):
    """The paper's reference.py module, or None when it has none."""
    if not (registry.folder(slug) / "reference.py").exists():
        return None
    return importlib.import_module(f"{registry.package()}.{slug}.reference")


def _pair_benchmarks(threads: int | None, name: str, factory, params: dict) -> dict:
    """time_<name> and track_<name>_ratio of one pair, sharing one factory call per parameter set."""
    from papers.harness.kernels import synchronized

    state = {"pairs": {}}

    def enter(*params):
        from papers.harness.policy import limit_threads

        stack = contextlib.ExitStack()
        stack.enter_context(limit_threads(threads))
        state["stack"] = stack
        if params not in state["pairs"]:
            state["pairs"][params] = factory(*params)
        return state["pairs"][params]

    def leave(*args):
        if "stack" in state:
            state.pop("stack").close()

    def time_setup(*args):
        *params, side = args
        state["call"] = synchronized(enter(*params)[SIDES.index(side)], "cpu")

    def time_pair(self, *args):
        state["call"]()

    def track_setup(*params):
        state["both"] = enter(*params)

    def track_ratio(self, *params):
        from papers.common.timing import interleaved_ratios

        return statistics.median(interleaved_ratios(*state["both"], rounds=ROUNDS))

    version = version_of(inspect.getsource(factory), repr(params))
    time_pair.setup, time_pair.teardown = time_setup, leave
    time_pair.params, time_pair.param_names = [*params.values(), SIDES], [*params.keys(), "side"]
    track_ratio.setup, track_ratio.teardown = track_setup, leave
    track_ratio.params, track_ratio.param_names = list(params.values()), list(params.keys())
    track_ratio.unit = "ours / reference"
    for bench in (time_pair, track_ratio):
        bench.version, bench.timeout = version, 600
        bench.__doc__ = (factory.__doc__ or "").strip().splitlines()[0] if factory.__doc__ else ""
    time_pair.rounds, time_pair.repeat, time_pair.warmup_time = 1, (1, 5, 10.0), 0.5
    track_ratio.timeout = 1800  # ROUNDS rounds of both sides: kronfluence's fit and score take seconds each
    return {f"time_{name}": time_pair, f"track_{name}_ratio": track_ratio}


def pairs_class(name: str, pairs: dict, threads: int | None, doc: str) -> type:
    """The asv class `Reference_<name>` of `pairs` ({pair: (factory, params)}), run under `threads`."""
    methods = {}
    for pair, (factory, params) in pairs.items():
        methods.update(_pair_benchmarks(threads, pair, factory, dict(params)))
    return type(f"Reference_{name}", (), {"__doc__": doc, **methods})


def reference_class(slug: str) -> type | None:
    """The asv class of a paper's reference pairs, or None when it has none (or they do not import)."""
    try:
        module = reference_module(slug)
    except Exception as exc:  # a missing `reference` extra must not hide the other benchmarks
        print(f"reference_suite: {slug}: reference.py does not import: {exc!r}", file=sys.stderr)
        return None
    if module is None or not getattr(module, "PAIRS", None):
        return None
    info = registry.info(slug)
    return pairs_class(slug, module.PAIRS, info.threads, info.title)


for _info in registry.all_infos()[0]:
    _cls = reference_class(_info.slug)
    if _cls is not None:
        globals()[f"Reference_{_info.slug}"] = _cls
if importlib.util.find_spec("diffrax") is None:
    print("reference_suite: solvers: diffrax (the `reference` extra) is not installed", file=sys.stderr)
else:
    Reference_solvers = pairs_class(
        "solvers", solver_pairs.PAIRS, solver_pairs.THREADS, solver_pairs.__doc__.strip().splitlines()[0]
    )
