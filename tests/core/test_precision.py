"""The int8 graphs shipped beside the float one: chosen by the CPU, set by the user, as accurate."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from core.engine import cpu_features
from core.engine.backbones import DEFAULT_BACKBONE, get_backbone_spec
from core.engine.pipeline import prepare
from core.engine.runtime import INT8_ARITHMETIC_ENV, int8_graph, open_runtime, resolve_precision
from core.engine.sources import file_ref
from core.errors import BackboneUnavailable
from tests.conftest import shared

X86_NO_VNNI = "processor\t: 0\nflags\t\t: fpu sse sse2 avx avx2 fma bmi2 sha_ni\n"
X86_VNNI = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_vnni\n"
ARM_DOTPROD = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes crc32 atomics asimddp\n"


@pytest.mark.parametrize(
    ("cpuinfo", "fast"), [(X86_NO_VNNI, False), (X86_VNNI, True), (ARM_DOTPROD, True), ("", False)]
)
def test_int8_dot_product_is_read_from_cpu_flags(cpuinfo, fast):
    assert bool(cpu_features.cpu_flags(cpuinfo) & cpu_features.INT8_DOT_FLAGS) is fast


@pytest.mark.parametrize(
    ("machine", "cpuinfo", "saturates"),
    [
        ("x86_64", X86_NO_VNNI, True),
        ("x86_64", X86_VNNI, False),
        ("AMD64", "", True),
        ("aarch64", ARM_DOTPROD, False),
        ("aarch64", "", False),
    ],
)
def test_x86_without_vnni_is_where_int8_sums_saturate(monkeypatch, machine, cpuinfo, saturates):
    monkeypatch.setattr(cpu_features.platform, "machine", lambda: machine)
    flags = cpu_features.cpu_flags(cpuinfo)
    monkeypatch.setattr(
        cpu_features, "has_int8_dot_product", lambda: bool(flags & cpu_features.INT8_DOT_FLAGS)
    )
    cpu_features.int8_multiply_saturates.cache_clear()
    try:
        assert cpu_features.int8_multiply_saturates() is saturates
    finally:
        cpu_features.int8_multiply_saturates.cache_clear()


@pytest.mark.parametrize("fast", [True, False])
def test_auto_takes_int8_only_where_the_cpu_multiplies_int8_fast(monkeypatch, fast):
    monkeypatch.setattr(cpu_features, "has_int8_dot_product", lambda: fast)
    assert resolve_precision("auto") == ("int8" if fast else "float")
    assert resolve_precision("float") == "float"
    assert resolve_precision("int8") == "int8"
    with pytest.raises(BackboneUnavailable, match="unknown precision 'fp8'"):
        resolve_precision("fp8")


@pytest.mark.parametrize(
    ("precision", "saturates", "arithmetic", "name"),
    [
        ("float", True, "", "onnxruntime-cpu"),
        ("int8", False, "", "onnxruntime-cpu-int8"),
        ("int8", True, "", "onnxruntime-cpu-int8-avx2"),
        ("int8", True, "exact", "onnxruntime-cpu-int8-exact"),
        ("float", True, "exact", "onnxruntime-cpu"),
    ],
)
def test_each_shipped_graph_opens_for_its_cpu_and_tags(
    tmp_path, monkeypatch, precision, saturates, arithmetic, name
):
    monkeypatch.setattr(cpu_features, "int8_multiply_saturates", lambda: saturates)
    monkeypatch.setenv(INT8_ARITHMETIC_ENV, arithmetic)
    runtime = open_runtime(
        get_backbone_spec(DEFAULT_BACKBONE),
        device="cpu",
        cache_dir=tmp_path,
        threads=1,
        precision=precision,
    )
    assert runtime.name == name
    embedding, logits = runtime.run(np.zeros((2, 3, 224, 288), np.float32))
    assert embedding.shape == (2, 1280) and logits.shape == (2, 1000)


def test_int8_graph_is_the_one_for_this_cpu_and_only_if_shipped(monkeypatch):
    both = {"int8": "a", "int8-avx2": "b"}
    monkeypatch.setenv(INT8_ARITHMETIC_ENV, "")
    monkeypatch.setattr(cpu_features, "int8_multiply_saturates", lambda: True)
    assert int8_graph(both) == "int8-avx2"
    # Never the 8-bit graph where sums saturate: float instead.
    assert int8_graph({"int8": "a"}) is None
    monkeypatch.setenv(INT8_ARITHMETIC_ENV, "exact")
    assert int8_graph(both) == "int8"
    monkeypatch.setenv(INT8_ARITHMETIC_ENV, "")
    monkeypatch.setattr(cpu_features, "int8_multiply_saturates", lambda: False)
    assert int8_graph(both) == "int8"
    assert int8_graph({}) is None


@pytest.mark.slow
def test_int8_keeps_imagenet_top1_within_one_point(tmp_path, monkeypatch):
    """Each int8 graph against float on the same prepared inputs, the whole-photo view.

    The 8-bit graph runs with exact arithmetic, as a CPU with VNNI or Arm's dot
    product runs it; the 7-bit graph on this CPU's own kernels.
    """
    folder = shared("imagenet-sample")
    with open(folder / "labels.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    spec = get_backbone_spec(DEFAULT_BACKBONE)
    runtimes = {}
    for graph, saturates, arithmetic in (("int8", False, "exact"), ("int8-avx2", True, "")):
        monkeypatch.setattr(cpu_features, "int8_multiply_saturates", lambda s=saturates: s)
        monkeypatch.setenv(INT8_ARITHMETIC_ENV, arithmetic)
        runtimes[graph] = open_runtime(spec, device="cpu", cache_dir=tmp_path, precision="int8")
    runtimes["float"] = open_runtime(spec, device="cpu", cache_dir=tmp_path, precision="float")
    assert runtimes["int8"].name.endswith("-exact")
    config = runtimes["float"].data_config
    hits = dict.fromkeys(runtimes, 0)
    for row in rows:
        pixels = prepare(file_ref(folder / row["filename"]), config).pixels
        assert pixels is not None
        for graph, runtime in runtimes.items():
            _, logits = runtime.run(pixels[None])
            hits[graph] += int(logits[0].argmax() == int(row["class_index"]))
    assert hits["float"] >= 0.87 * len(rows), hits
    for graph in ("int8", "int8-avx2"):
        assert hits[graph] >= hits["float"] - len(rows) // 100, hits  # at most 1 point lost


@pytest.mark.parametrize(
    ("dot_product", "saturates", "name"),
    [
        (True, False, "onnxruntime-cpu-int8"),  # x86 with VNNI or AMX, Arm with dot product
        (False, False, "onnxruntime-cpu"),  # Arm without dot product
        (False, True, "onnxruntime-cpu"),  # x86 without VNNI
    ],
)
def test_the_default_setting_takes_the_8_bit_graph_only_on_dot_product_cpus(
    tmp_path, monkeypatch, dot_product, saturates, name
):
    from core.settings import Settings

    monkeypatch.delenv(INT8_ARITHMETIC_ENV, raising=False)
    monkeypatch.setattr(cpu_features, "has_int8_dot_product", lambda: dot_product)
    monkeypatch.setattr(cpu_features, "int8_multiply_saturates", lambda: saturates)
    runtime = open_runtime(
        get_backbone_spec(DEFAULT_BACKBONE),
        device="cpu",
        cache_dir=tmp_path,
        threads=1,
        precision=Settings().precision,
    )
    assert runtime.name == name
