"""Helpers shared by the benchmarks: where the data is, and a clean exit when it is absent."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"

sys.path.insert(0, str(ROOT))


def shared(*parts: str) -> Path:
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        print(json.dumps({"skipped": f"shared data not found at {path}"}))
        sys.exit(0)
    return path


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


PRECISIONS = ("auto", "float", "int8", "int8-exact")
"""The CPU graphs a benchmark can run: the runtime's precisions, and ``int8-exact``."""


def use_precision(precision: str) -> str:
    """The runtime precision for a benchmark's ``precision``, setting how int8 is computed.

    ``int8-exact`` runs the full 8-bit int8 graph with exact arithmetic, as a CPU
    with 8-bit dot-product instructions computes it (slowly, on any CPU); plain
    ``int8`` runs the graph this CPU gets, on its own kernels.
    """
    from core.engine.runtime import INT8_ARITHMETIC_ENV

    if precision == "int8-exact":
        os.environ[INT8_ARITHMETIC_ENV] = "exact"
        return "int8"
    os.environ.pop(INT8_ARITHMETIC_ENV, None)
    return precision
