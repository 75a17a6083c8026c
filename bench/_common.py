"""Helpers shared by the benchmarks: where the data is, and a clean exit when it is absent."""

from __future__ import annotations

import json
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
