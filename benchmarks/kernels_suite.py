"""asv timings of the kernels each paper declares in its kernels.py (`@kernel`).

`Kernels_<slug>.time_<kernel>(*params, device)` times the callable the kernel's factory returns,
synchronised by the harness and under the paper's thread limit; a device the machine lacks raises
NotImplementedError in setup, which asv reports as skipped. Each kernel runs one round of at most
5 samples (10 s) after 0.5 s of warm-up unless it declares its own `number`/`repeat`/`warmup_time`,
so that one commit's `asv run` stays within budget.
"""

import contextlib
import inspect
import sys

from papers.harness import registry

from .versioning import version_of

DEFAULT_REPEAT = (1, 5, 10.0)
DEFAULT_WARMUP = 0.5


def _gpu_available() -> bool:
    from papers.harness.runner import gpu_available

    return gpu_available()


def _time_benchmark(slug: str, k):
    state = {}

    def setup(*args):  # asv calls a benchmark's own setup with the parameters only
        from papers.harness.policy import limit_threads

        *params, device = args
        if device == "cuda" and not _gpu_available():
            raise NotImplementedError("no GPU on this machine")
        stack = contextlib.ExitStack()
        stack.enter_context(limit_threads(registry.info(slug).threads))
        state["stack"], state["call"] = stack, k.prepare(*params, device=device)

    def teardown(*args):
        if "stack" in state:
            state.pop("stack").close()

    def time_kernel(self, *args):
        state["call"]()

    time_kernel.setup, time_kernel.teardown = setup, teardown
    time_kernel.params = [*k.params.values(), list(k.devices)]
    time_kernel.param_names = [*k.params.keys(), "device"]
    time_kernel.version = version_of(inspect.getsource(k.setup), repr(k.params), repr(k.devices))
    time_kernel.timeout = 300
    time_kernel.rounds = 1
    time_kernel.number = k.number or 0
    time_kernel.repeat = k.repeat or DEFAULT_REPEAT
    time_kernel.warmup_time = DEFAULT_WARMUP if k.warmup_time is None else k.warmup_time
    time_kernel.__doc__ = k.doc
    return time_kernel


def kernels_class(slug: str) -> type | None:
    """The asv class of a paper's kernels, or None when it has none (or they do not import)."""
    from papers.harness.kernels import kernels_of

    try:
        module = registry.kernels_module(slug)
    except Exception as exc:  # one broken paper must not hide every other paper's benchmarks
        print(f"kernels_suite: {slug}: kernels.py does not import: {exc!r}", file=sys.stderr)
        return None
    if module is None:
        return None
    methods = {f"time_{k.name}": _time_benchmark(slug, k) for k in kernels_of(module)}
    return type(f"Kernels_{slug}", (), {"__doc__": registry.info(slug).title, **methods}) if methods else None


for _info in registry.all_infos()[0]:
    _cls = kernels_class(_info.slug)
    if _cls is not None:
        globals()[f"Kernels_{_info.slug}"] = _cls
