"""Tagging on a Ray cluster: the local pipeline's steps as a Ray Data pipeline.

Photos to tag become a dataset of rows; decoding (and the face search) runs in
Ray tasks with :func:`core.engine.pipeline.prepare`; inference runs in a pool of
actors, each holding one :class:`core.engine.pipeline.Tagger` and calling
:func:`core.engine.pipeline.infer_batch`; the results stream back to the driver in
batches. The driver alone writes them, through :func:`core.engine.pipeline.tag_photos`
and the store, exactly as a local run does: the store stays the single writer,
each batch is one transaction, and a re-run skips what is done.

Ray restarts a worker that dies and runs its batch again, and a batch reaches
the driver only once its task has finished, so a lost worker costs time, never
a photo. Photos must be at the same paths on every node (shared storage), and
so must the ONNX export cache, which the driver fills before any worker starts.

Ray is an optional dependency (``pip install 'phototagger[cluster]'``): only
``phototagger tag --ray`` imports this module, and this module imports Ray only
inside its functions.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import logging
import socket
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.engine.backbones import BackboneSpec
from core.engine.face_encoder import FaceEncoder, RecognitionUnavailable
from core.engine.faces import Face, FaceDetector
from core.engine.pipeline import Prepared, Tagger, infer_batch, prepare
from core.engine.sources import PhotoRef
from core.engine.transforms import DataConfig, View
from core.engine.vocabulary import TagScore
from core.errors import PhotoTaggerError
from core.store import PhotoResult

LOCAL = "local"
"""The address that starts a private Ray instance on this machine for one run."""

DECODE_MEMORY = 768 * 2**20
"""Bytes of memory a decoding task reserves on its node."""

log = logging.getLogger(__name__)

Columns = dict[str, Any]
"""One batch of rows, column by column (Ray Data's ``numpy`` batch format)."""


class ClusterUnavailable(PhotoTaggerError):
    """Ray is not installed, or the cluster cannot be reached."""


def require_ray() -> None:
    """Say in one line how to get Ray when it is missing.

    Raises:
        ClusterUnavailable: If Ray is not installed.
    """
    if importlib.util.find_spec("ray") is None:
        raise ClusterUnavailable(
            "tagging on a cluster needs Ray: pip install 'phototagger[cluster]'"
        )


@contextlib.contextmanager
def connect(address: str, *, num_cpus: int | None = None) -> Iterator[None]:
    """Join the Ray cluster at ``address`` (or start a local one) for the ``with`` block.

    Args:
        address: :data:`LOCAL` for a private instance on this machine, ``auto`` for
            the cluster this node belongs to, or ``ray://host:port``.
        num_cpus: CPUs a local instance may use (default: all).

    Raises:
        ClusterUnavailable: If Ray is missing or the cluster does not answer.
    """
    require_ray()
    import ray
    import ray.data

    _check_reachable(address)  # an address that does not answer is wrong in any case
    if ray.is_initialized():  # the caller (a test, a notebook) owns this connection
        yield
        return
    quiet = {"log_to_driver": False, "logging_level": logging.WARNING}
    try:
        if address == LOCAL:
            ray.init(num_cpus=num_cpus, include_dashboard=False, **quiet)
        else:
            ray.init(address=address, **quiet)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ClusterUnavailable(f"cannot reach the Ray cluster at {address}: {exc}") from exc
    # PhotoTagger shows its own progress, per stored batch, and its own failures.
    ray.data.DataContext.get_current().enable_progress_bars = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    try:
        yield
    finally:
        ray.shutdown()


def _check_reachable(address: str, *, timeout: float = 5.0) -> None:
    # Ray waits minutes for a head that does not answer; a HOST:PORT is tried first.
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if address in (LOCAL, "auto") or not host or not port.isdigit():
        return
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ClusterUnavailable(
            f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}"
        ) from exc


def cluster_device(requested: str) -> str:
    """The device the inference workers use for ``requested`` (``auto``, ``cpu``, ``cuda``).

    ``auto`` means ``cuda`` when the cluster has a GPU. Call it connected.

    Raises:
        ClusterUnavailable: For a GPU the cluster lacks, or a device Ray does not schedule.
    """
    import ray

    gpus = ray.cluster_resources().get("GPU", 0)
    if requested == "cpu":
        return "cpu"
    if requested == "auto":
        return "cuda" if gpus >= 1 else "cpu"
    if requested.startswith("cuda"):
        if gpus < 1:
            raise ClusterUnavailable("the Ray cluster has no GPU for --device cuda")
        return "cuda"
    raise ClusterUnavailable(
        f"device {requested!r} cannot be used on a Ray cluster; use cpu or cuda"
    )


@dataclass(frozen=True)
class RayRunner:
    """Runs decoding and inference on Ray; a :class:`core.engine.pipeline.BatchRunner`.

    Attributes:
        workers: Inference actors; each holds one copy of the backbone.
        device: Where the actors run it: ``cpu`` (ONNX Runtime) or ``cuda``.
        cpus_per_worker: CPUs each actor reserves (a fraction shares one), and so
            ONNX Runtime's threads in it (at least one).
        cache_dir: The ONNX export cache (shared storage on a cluster).
        precision: The CPU graph the actors run (``auto``, ``float``, ``int8``; ``auto``
            decides on each worker's CPU).
    """

    cache_dir: Path
    workers: int = 1
    device: str = "cpu"
    cpus_per_worker: float = 1.0
    precision: str = "float"

    def __call__(
        self,
        refs: Sequence[PhotoRef],
        *,
        tagger: Tagger,
        batch_size: int,
        cancel: threading.Event | None,
        max_pixels: int,
        known_faces: dict[str, tuple[Face, ...]] | None,
    ) -> Iterator[list[PhotoResult]]:
        """Tag ``refs`` on the cluster; yields each finished batch to the driver."""
        if not refs:
            return
        import ray

        self.check_room()
        known = known_faces or {}
        rows = [_ref_row(r, known.get(r.uri)) for r in refs]
        dataset = ray.data.from_items(rows, override_num_blocks=max(1, len(rows) // batch_size))
        decoded = dataset.map_batches(
            _decode_batch,
            batch_size=batch_size,
            batch_format="numpy",
            fn_kwargs={
                "config": tagger.data_config,
                "view": tagger.spec.view,
                "max_pixels": max_pixels,
                "faces": tagger.faces is not None,
                "recognize": tagger.encoder is not None,
            },
            num_cpus=1,
            # Room for a batch of decoded photos. Asking for it also keeps decoding a
            # stage of its own (Ray Data fuses a stage into the next only when both ask
            # for the same resources): it then scales with the cluster's CPUs, not
            # with the number of inference actors.
            memory=DECODE_MEMORY,
        )
        gpu = self.device != "cpu"
        inferred = decoded.map_batches(
            _InferenceWorker,
            batch_size=batch_size,
            batch_format="numpy",
            fn_constructor_kwargs={
                "spec": tagger.spec,
                "device": self.device,
                "cache_dir": self.cache_dir,
                "faces": tagger.faces is not None,
                "recognize": tagger.encoder is not None,
                "precision": self.precision,
                "threads": max(1, int(self.cpus_per_worker)),
            },
            compute=ray.data.ActorPoolStrategy(size=self.workers),
            num_cpus=self.cpus_per_worker,
            num_gpus=1 if gpu else 0,
        )
        for batch in inferred.iter_batches(batch_size=None, batch_format="numpy"):
            if cancel is not None and cancel.is_set():
                return
            yield _results_from_columns(batch)

    def check_room(self, cpus: float | None = None) -> None:
        """Make sure the actors leave a CPU for decoding; they hold theirs for the whole run.

        Args:
            cpus: The cluster's CPUs (default: ask the connected cluster).

        Raises:
            ClusterUnavailable: If they would not, as Ray would then wait for ever.
        """
        if cpus is None:
            import ray

            cpus = ray.cluster_resources().get("CPU", 0)
        if cpus - self.workers * self.cpus_per_worker < 1:
            raise ClusterUnavailable(
                f"{self.workers} inference workers of {self.cpus_per_worker:g} CPU each leave "
                f"no CPU for decoding on a Ray cluster of {cpus:g} CPUs; ask for fewer workers"
            )


def _ref_row(ref: PhotoRef, known: tuple[Face, ...] | None) -> dict[str, Any]:
    return {
        "uri": ref.uri,
        "kind": ref.kind,
        "size": ref.size,
        "mtime": ref.mtime,
        "known_faces": _faces_json(known),
    }


def _faces_json(faces: Sequence[Face] | None) -> str:
    # "" stands for "not searched" (None): a column of nothing but None loses its type.
    if faces is None:
        return ""
    return json.dumps(
        [
            [
                list(f.box),
                f.score,
                [list(p) for p in f.landmarks],
                None if f.embedding is None else f.embedding.tolist(),
            ]
            for f in faces
        ]
    )


def _faces_from_json(text: str) -> tuple[Face, ...] | None:
    if not text:
        return None
    return tuple(
        Face(
            tuple(box),
            score,
            tuple(tuple(p) for p in landmarks),
            None if embedding is None else np.asarray(embedding, dtype=np.float32),
        )
        for box, score, landmarks, embedding in json.loads(text)
    )


def _refs_from_columns(batch: Columns) -> list[PhotoRef]:
    return [
        PhotoRef(str(uri), str(kind), int(size), int(mtime))
        for uri, kind, size, mtime in zip(
            batch["uri"], batch["kind"], batch["size"], batch["mtime"], strict=True
        )
    ]


@functools.cache
def _worker_face_detector() -> FaceDetector:
    # One detector per worker process, kept for the tasks that process runs next.
    return FaceDetector()


@functools.cache
def _worker_face_encoder() -> FaceEncoder | None:
    # Likewise one encoder per worker; None where the worker lacks face recognition.
    try:
        return FaceEncoder()
    except RecognitionUnavailable as exc:
        log.info("%s", exc)
        return None


def _decode_batch(
    batch: Columns,
    *,
    config: DataConfig,
    view: View,
    max_pixels: int,
    faces: bool,
    recognize: bool = False,
) -> Columns:
    """Ray task: read, decode and preprocess a batch of photos with the local pipeline's step."""
    detector = _worker_face_detector() if faces else None
    encoder = _worker_face_encoder() if faces and recognize else None
    prepared = [
        prepare(
            ref,
            config,
            view=view,
            max_pixels=max_pixels,
            detector=detector,
            encoder=encoder,
            known_faces=_faces_from_json(str(known)),
        )
        for ref, known in zip(_refs_from_columns(batch), batch["known_faces"], strict=True)
    ]
    return {
        "uri": np.array([p.ref.uri for p in prepared], dtype=object),
        "kind": np.array([p.ref.kind for p in prepared], dtype=object),
        "size": np.array([p.ref.size for p in prepared], dtype=np.int64),
        "mtime": np.array([p.ref.mtime for p in prepared], dtype=np.int64),
        # Whole-photo inputs differ in shape from photo to photo: raw bytes and a shape.
        "pixels": _object_array(
            [b"" if p.pixels is None else p.pixels.astype(np.float32).tobytes() for p in prepared]
        ),
        "shape": np.array(
            [json.dumps(None if p.pixels is None else list(p.pixels.shape)) for p in prepared],
            dtype=object,
        ),
        "width": np.array([p.width for p in prepared], dtype=np.int64),
        "height": np.array([p.height for p in prepared], dtype=np.int64),
        "format": np.array([p.format for p in prepared], dtype=object),
        "error": np.array([p.error or "" for p in prepared], dtype=object),
        "faces": np.array([_faces_json(p.faces) for p in prepared], dtype=object),
        "detected": np.array([p.detected for p in prepared], dtype=bool),
    }


def _object_array(items: list[Any]) -> np.ndarray:
    array = np.empty(len(items), dtype=object)
    array[:] = items
    return array


def _prepared_from_columns(batch: Columns) -> list[Prepared]:
    prepared = []
    for i, ref in enumerate(_refs_from_columns(batch)):
        shape = json.loads(batch["shape"][i])
        pixels = (
            None
            if shape is None
            else np.frombuffer(batch["pixels"][i], dtype=np.float32).reshape(shape)
        )
        prepared.append(
            Prepared(
                ref,
                pixels,
                int(batch["width"][i]),
                int(batch["height"][i]),
                str(batch["format"][i]),
                error=str(batch["error"][i]) or None,
                faces=_faces_from_json(str(batch["faces"][i])),
                detected=bool(batch["detected"][i]),
            )
        )
    return prepared


class _InferenceWorker:
    """Ray actor: one backbone, opened once, run on batch after batch."""

    def __init__(
        self,
        *,
        spec: BackboneSpec,
        device: str,
        cache_dir: Path,
        faces: bool,
        threads: int,
        recognize: bool = False,
        precision: str = "float",
    ) -> None:
        self.tagger = Tagger.open(
            spec,
            device=device,
            cache_dir=cache_dir,
            threads=threads,
            faces=faces,
            recognize=recognize,
            precision=precision,
        )

    def __call__(self, batch: Columns) -> Columns:
        prepared = _prepared_from_columns(batch)
        # A forward pass takes one input shape: one pass per shape, failures with the last.
        by_shape: dict[tuple[int, ...], list[Prepared]] = {}
        for p in prepared:
            if p.pixels is not None:
                by_shape.setdefault(p.pixels.shape, []).append(p)
        groups = list(by_shape.values()) or [[]]
        groups[-1] = groups[-1] + [p for p in prepared if p.pixels is None]
        results = [r for group in groups for r in infer_batch(group, self.tagger)]
        return _results_to_columns(results)


def _results_to_columns(results: list[PhotoResult]) -> Columns:
    return {
        "uri": np.array([r.ref.uri for r in results], dtype=object),
        "kind": np.array([r.ref.kind for r in results], dtype=object),
        "size": np.array([r.ref.size for r in results], dtype=np.int64),
        "mtime": np.array([r.ref.mtime for r in results], dtype=np.int64),
        "width": np.array([r.width for r in results], dtype=np.int64),
        "height": np.array([r.height for r in results], dtype=np.int64),
        "format": np.array([r.format for r in results], dtype=object),
        "embedding": _object_array(
            [
                b"" if r.embedding is None else r.embedding.astype(np.float32).tobytes()
                for r in results
            ]
        ),
        "suggestions": np.array(
            [json.dumps([[s.tag, s.score, s.source] for s in r.suggestions]) for r in results],
            dtype=object,
        ),
        "error": np.array([r.error or "" for r in results], dtype=object),
        "faces": np.array([_faces_json(r.faces) for r in results], dtype=object),
        "face_detector": np.array([r.face_detector or "" for r in results], dtype=object),
        "face_encoder": np.array([r.face_encoder or "" for r in results], dtype=object),
    }


def _results_from_columns(batch: Columns) -> list[PhotoResult]:
    results = []
    for i, ref in enumerate(_refs_from_columns(batch)):
        embedding = batch["embedding"][i]
        results.append(
            PhotoResult(
                ref,
                int(batch["width"][i]),
                int(batch["height"][i]),
                str(batch["format"][i]),
                np.frombuffer(embedding, dtype=np.float32) if len(embedding) else None,
                tuple(
                    TagScore(tag, float(score), source)
                    for tag, score, source in json.loads(batch["suggestions"][i])
                ),
                error=str(batch["error"][i]) or None,
                faces=_faces_from_json(str(batch["faces"][i])),
                face_detector=str(batch["face_detector"][i]) or None,
                face_encoder=str(batch["face_encoder"][i]) or None,
            )
        )
    return results
