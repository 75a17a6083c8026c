"""The int8 graph shipped beside the float one: chosen by the CPU, set by the user, as accurate."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from core.engine import cpu_features
from core.engine.backbones import DEFAULT_BACKBONE, get_backbone_spec
from core.engine.pipeline import prepare
from core.engine.runtime import open_runtime, resolve_precision
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


@pytest.mark.parametrize("fast", [True, False])
def test_auto_takes_int8_only_where_the_cpu_multiplies_int8_fast(monkeypatch, fast):
    monkeypatch.setattr(cpu_features, "has_int8_dot_product", lambda: fast)
    assert resolve_precision("auto") == ("int8" if fast else "float")
    assert resolve_precision("float") == "float"
    assert resolve_precision("int8") == "int8"
    with pytest.raises(BackboneUnavailable, match="unknown precision 'fp8'"):
        resolve_precision("fp8")


@pytest.mark.parametrize(
    ("precision", "name"), [("float", "onnxruntime-cpu"), ("int8", "onnxruntime-cpu-int8")]
)
def test_either_shipped_graph_opens_and_tags(tmp_path, precision, name):
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


@pytest.mark.slow
def test_int8_keeps_imagenet_top1_within_one_point(tmp_path):
    """Both graphs on the same prepared inputs: the whole-photo view tagging uses."""
    folder = shared("imagenet-sample")
    with open(folder / "labels.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    spec = get_backbone_spec(DEFAULT_BACKBONE)
    runtimes = {
        p: open_runtime(spec, device="cpu", cache_dir=tmp_path, precision=p)
        for p in ("float", "int8")
    }
    config = runtimes["float"].data_config
    hits = {"float": 0, "int8": 0}
    for row in rows:
        pixels = prepare(file_ref(folder / row["filename"]), config).pixels
        assert pixels is not None
        for precision, runtime in runtimes.items():
            _, logits = runtime.run(pixels[None])
            hits[precision] += int(logits[0].argmax() == int(row["class_index"]))
    assert hits["float"] >= 0.87 * len(rows), hits
    assert hits["int8"] >= hits["float"] - len(rows) // 100, hits  # at most 1 point lost
