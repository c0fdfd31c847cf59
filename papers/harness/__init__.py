"""The reproduction harness: what paper folders import (Metric, RunContext, kernel)."""
from papers.harness.context import RunContext
from papers.harness.kernels import kernel
from papers.harness.metric import Metric

__all__ = ["Metric", "RunContext", "kernel"]
