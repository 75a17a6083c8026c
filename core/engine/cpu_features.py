"""How this CPU multiplies int8: behind the ``auto`` precision and the choice of int8 graph.

An int8 graph wins on CPUs with 8-bit dot-product instructions (x86 VNNI or
AMX, Arm's dot product); elsewhere ONNX Runtime emulates them and the float
graph is the safe default (ADR 0007). On x86 CPUs without them, ONNX Runtime
adds pairs of u8 x s8 products in 16 bits (AVX2's ``vpmaddubsw``), which
overflows with full 8-bit weights, so those CPUs get the int8 graph whose
pointwise weights use 7 bits. Read from what the OS reports, never by running
a model, so start-up stays fast.
"""

from __future__ import annotations

import platform
import subprocess
import sys
from functools import cache
from pathlib import Path

# /proc/cpuinfo flag names (x86 "flags", Arm "Features").
INT8_DOT_FLAGS = frozenset(
    {"avx512_vnni", "avx_vnni", "avx_vnni_int8", "amx_int8", "asimddp", "i8mm"}
)
X86_MACHINES = frozenset({"x86_64", "amd64", "i386", "i686", "x86"})
# macOS sysctl keys for Arm's dot product (every Apple silicon Mac has it).
_MAC_KEYS = ("hw.optional.arm.FEAT_DotProd", "hw.optional.arm.FEAT_I8MM")


def cpu_flags(cpuinfo: str) -> frozenset[str]:
    """The feature flags in a ``/proc/cpuinfo`` text (first processor's)."""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in ("flags", "features"):
            return frozenset(value.split())
    return frozenset()


@cache
def has_int8_dot_product() -> bool:
    """True where the CPU has 8-bit dot-product instructions (VNNI, AMX or Arm dotprod)."""
    if sys.platform.startswith("linux"):
        try:
            text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return False
        return bool(cpu_flags(text) & INT8_DOT_FLAGS)
    if sys.platform == "darwin" and platform.machine() == "arm64":
        return any(_sysctl(key) == "1" for key in _MAC_KEYS)
    return False  # Windows and others: not detected, so the float graph


@cache
def int8_multiply_saturates() -> bool:
    """True on x86 CPUs without VNNI or AMX, where a 16-bit sum of u8 x s8 products can overflow.

    Windows is not probed for VNNI, so an x86 Windows machine counts as saturating:
    the 7-bit graph is right on every x86 CPU, only a little less accurate.
    """
    return platform.machine().lower() in X86_MACHINES and not has_int8_dot_product()


def _sysctl(key: str) -> str:
    try:
        out = subprocess.run(
            ["sysctl", "-n", key], capture_output=True, text=True, timeout=2, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip()
