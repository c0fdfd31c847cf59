"""The reproduction harness: what paper folders import (Metric, RunContext, kernel, limit_threads)."""

from papers.harness.context import RunContext
from papers.harness.kernels import kernel
from papers.harness.metric import Metric
from papers.harness.policy import limit_threads

__all__ = ["Metric", "RunContext", "kernel", "limit_threads"]
