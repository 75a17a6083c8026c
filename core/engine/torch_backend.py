"""The torch side of a backbone: building it, loading its weights, exporting and running it.

Only imported when a model must be built (to export it to ONNX, to run it on a
GPU, or to train), so the CPU tagging path never pays for torch.
"""

from __future__ import annotations

import logging
import os
import socket
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import timm
import torch
from torch import nn

from core.engine.backbones import BackboneSpec, local_weights_file
from core.engine.transforms import DataConfig, whole_photo_size
from core.errors import BackboneUnavailable

log = logging.getLogger(__name__)

ONNX_OPSET = 17
"""The ONNX opset exports are made with (the shipped export's manifest records it)."""


class EmbeddingAndLogits(nn.Module):
    """Wraps a timm classifier so one forward pass gives the pooled embedding and the logits."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.model.forward_features(x)
        embedding = self.model.forward_head(features, pre_logits=True)
        logits = self.model.forward_head(features)
        return embedding, logits


@dataclass(frozen=True)
class LoadedBackbone:
    """A backbone built in torch, in eval mode, with its data config."""

    spec: BackboneSpec
    model: nn.Module
    data_config: DataConfig
    device: str

    def two_heads(self) -> EmbeddingAndLogits:
        return EmbeddingAndLogits(self.model).eval()


def create_model(spec: BackboneSpec, *, pretrained_from: Path | None) -> nn.Module:
    """Build ``spec``'s timm model, with weights from a file or (for hub entries) timm's hub.

    With ``pretrained_from=None`` and a non-hub spec the weights stay random, which
    is what tests use to check shapes and flow.
    """
    model = timm.create_model(spec.architecture, pretrained=False)
    if pretrained_from is not None:
        state = _read_state_dict(pretrained_from)
        if spec.weights.key_layout == "efficientnet-pytorch":
            state = _rename_in_order(state, model.state_dict())
        model.load_state_dict(state)
    return model.eval()


def load_torch_backbone(spec: BackboneSpec, *, device: str = "cpu") -> LoadedBackbone:
    """Build ``spec`` with its pretrained weights, fetching hub weights if needed and possible."""
    path = local_weights_file(spec)
    if path is not None:
        model = create_model(spec, pretrained_from=path)
    elif spec.weights.kind == "hub":
        model = _create_from_hub(spec)
    else:
        raise BackboneUnavailable(
            f"{spec.display_name}: weights not found ({spec.weights.describe()})"
        )
    config = DataConfig.from_timm(timm.data.resolve_data_config({}, model=model))
    model = model.to(device)
    if device != "cpu":
        model = model.to(memory_format=torch.channels_last)
    return LoadedBackbone(spec=spec, model=model, data_config=config, device=device)


def _create_from_hub(spec: BackboneSpec) -> nn.Module:
    unreachable = BackboneUnavailable(
        f"{spec.display_name} needs its weights from the model hub, which cannot be reached "
        "from here; connect to the internet once to download them, or give a weights file "
        "with --weights"
    )
    # Fail in seconds, not after the hub client's minute of retries.
    if not hub_reachable():
        raise unreachable
    try:
        return timm.create_model(spec.architecture, pretrained=True).eval()
    except Exception as exc:  # the hub client raises many kinds when offline
        raise unreachable from exc


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the model hub answers a TCP connection (honours HF_HUB_OFFLINE and HF_ENDPOINT)."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return False
    endpoint = urlsplit(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        with socket.create_connection((endpoint.hostname or "", port), timeout=timeout):
            return True
    except OSError:
        return False


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    return state


def _rename_in_order(source: dict[str, torch.Tensor], target: dict[str, torch.Tensor]) -> dict:
    """Give EfficientNet-PyTorch tensors timm's names: same count, same order, same shapes."""
    if len(source) != len(target):
        raise BackboneUnavailable(
            f"weights file has {len(source)} tensors where the model has {len(target)}"
        )
    renamed = {}
    for (src_key, tensor), (dst_key, expected) in zip(source.items(), target.items(), strict=True):
        if tensor.shape != expected.shape:
            raise BackboneUnavailable(
                f"weights tensor {src_key} {tuple(tensor.shape)} does not fit {dst_key} "
                f"{tuple(expected.shape)}"
            )
        renamed[dst_key] = tensor
    return renamed


def export_onnx(loaded: LoadedBackbone, path: Path) -> None:
    """Export embedding + logits to ONNX with dynamic batch, height and width, atomically.

    Inputs are whole-photo views whose sides are multiples of the stride
    (:func:`core.engine.transforms.whole_photo_size`); at such sizes the "same" padding
    the tracer records for the example holds for every other size.
    """
    width, height = whole_photo_size(4, 3, loaded.data_config)
    example = torch.zeros((2, 3, height, width), dtype=torch.float32)
    module = loaded.two_heads().to("cpu")
    tmp = path.with_suffix(".onnx.partial")
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        # The TorchScript exporter is deprecated but gives a graph ONNX Runtime runs
        # faster on the CPU than the dynamo one for these CNNs, with no onnxscript needed.
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            module,
            (example,),
            str(tmp),
            input_names=["pixels"],
            output_names=["embedding", "logits"],
            dynamic_axes={
                "pixels": {0: "batch", 2: "height", 3: "width"},
                "embedding": {0: "batch"},
                "logits": {0: "batch"},
            },
            opset_version=ONNX_OPSET,
            dynamo=False,
        )
    tmp.replace(path)


class TorchRuntime:
    """Runs a backbone in torch: on CUDA/MPS with channels-last and half precision."""

    def __init__(self, loaded: LoadedBackbone) -> None:
        self.loaded = loaded
        self.name = f"torch-{loaded.device}"
        self.data_config = loaded.data_config
        self._module = loaded.two_heads()
        self._half = loaded.device.startswith("cuda")

    def run(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = torch.from_numpy(batch).to(self.loaded.device, non_blocking=True)
        if self.loaded.device != "cpu":
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            if self._half:
                with torch.autocast("cuda", dtype=torch.float16):
                    emb, logits = self._module(x)
            else:
                emb, logits = self._module(x)
        return emb.float().cpu().numpy(), logits.float().cpu().numpy()


def cuda_or_mps() -> str | None:
    """The best accelerator torch sees, or None."""
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return None
