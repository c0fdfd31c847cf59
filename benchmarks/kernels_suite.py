"""asv timings of the kernels each paper declares in its kernels.py (`@kernel`).

`Kernels_<slug>.time_<kernel>(*params, device)` times the callable the kernel's factory returns;
a device the machine lacks raises NotImplementedError in setup, which asv reports as skipped.
"""
import inspect
import sys

from papers.harness import registry

from .versioning import version_of


def _gpu_available() -> bool:
    from papers.harness.runner import gpu_available

    return gpu_available()


def _time_benchmark(k):
    state = {}

    def setup(*args):
        *params, device = args
        if device == "cuda" and not _gpu_available():
            raise NotImplementedError("no GPU on this machine")
        state["call"] = k.setup(*params, device)

    def time_kernel(self, *args):
        state["call"]()

    time_kernel.setup = setup
    time_kernel.params = [*k.params.values(), list(k.devices)]
    time_kernel.param_names = [*k.params.keys(), "device"]
    time_kernel.version = version_of(inspect.getsource(k.setup), repr(k.params), repr(k.devices))
    time_kernel.timeout = 300
    time_kernel.__doc__ = k.doc
    return time_kernel


def _kernels_class(slug: str) -> type | None:
    from papers.harness.kernels import kernels_of

    try:
        module = registry.kernels_module(slug)
    except Exception as exc:  # one broken paper must not hide every other paper's benchmarks
        print(f"kernels_suite: {slug}: kernels.py does not import: {exc!r}", file=sys.stderr)
        return None
    if module is None:
        return None
    methods = {f"time_{k.name}": _time_benchmark(k) for k in kernels_of(module)}
    return type(f"Kernels_{slug}", (), {"__doc__": registry.info(slug).title, **methods}) if methods else None


for _slug in registry.slugs():
    _cls = _kernels_class(_slug)
    if _cls is not None:
        globals()[f"Kernels_{_slug}"] = _cls
