"""Batch tagging: photos in, embeddings and suggestions out, stored batch by batch.

Decoding, preprocessing and face detection run on a thread pool (Pillow, numpy
and ONNX Runtime release the GIL; dlib does not, so face descriptors are computed
in helper processes) while the runtime works on the previous batch. Each finished
batch is written to the store in one transaction before it is reported, so a crash
or a kill loses at most the batch in flight, and a re-run skips what is done.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image

from core.engine.backbones import BackboneSpec, get_backbone_spec
from core.engine.face_encoder import FaceEncoder, RecognitionUnavailable
from core.engine.faces import DETECT_SHORT_SIDE, Face, FaceDetector
from core.engine.imaging import DEFAULT_MAX_PIXELS, decode_photo
from core.engine.people_tags import PeopleModel, people_tags
from core.engine.runtime import Runtime, open_runtime
from core.engine.sources import DEFAULT_MAX_DOWNLOAD, PhotoRef, fetch_url
from core.engine.transforms import DataConfig, View, input_short_side, to_input_array
from core.engine.vocabulary import TagScore, Vocabulary, softmax
from core.errors import DecodeError, FetchError
from core.store import PhotoResult, Store

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 16


def face_helper_processes() -> int:
    """Helper processes that compute face descriptors: one per four cores, from one to four.

    dlib holds the GIL while it works, so in this process it would stop every other
    thread (decoding, the app's window) for about 0.14 s a face.
    """
    return max(1, min(4, (os.cpu_count() or 2) // 4))


@dataclass(frozen=True)
class Progress:
    """Where a tagging run stands, reported after every batch."""

    done: int
    failed: int
    total: int
    elapsed: float
    last: str = ""

    @property
    def rate(self) -> float:
        """Photos per second so far."""
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left at the current rate, or None before the first batch."""
        return (self.total - self.done) / self.rate if self.rate > 0 else None


@dataclass(frozen=True)
class RunSummary:
    run_id: int | None
    total: int
    tagged: int
    failed: int
    skipped: int
    cancelled: bool
    elapsed: float
    errors: tuple[tuple[str, str], ...] = field(default=())


class BatchRunner(Protocol):
    """Turns the photos to tag into batches of results, each yielded as soon as it is ready.

    :func:`iter_results` is the local one; :mod:`core.engine.cluster` runs the same steps on Ray.
    """

    def __call__(
        self,
        refs: Sequence[PhotoRef],
        *,
        tagger: Tagger,
        batch_size: int,
        cancel: threading.Event | None,
        max_pixels: int,
        known_faces: dict[str, tuple[Face, ...]] | None,
    ) -> Iterator[list[PhotoResult]]: ...


class Tagger:
    """A backbone ready to tag: its runtime and the vocabulary that reads its logits.

    With a face detector, photos are also searched for faces; with a people
    model, suggestions include the people tags (:mod:`core.engine.people_tags`).
    """

    def __init__(
        self,
        spec: BackboneSpec,
        runtime: Runtime,
        vocabulary: Vocabulary,
        *,
        faces: FaceDetector | None = None,
        people: PeopleModel | None = None,
        encoder: FaceEncoder | None = None,
    ) -> None:
        self.spec = spec
        self.runtime = runtime
        self.vocabulary = vocabulary
        self.faces = faces
        self.people = people
        self.encoder = encoder if faces is not None else None

    @classmethod
    def open(
        cls,
        backbone: str | BackboneSpec,
        *,
        device: str = "auto",
        cache_dir: Path,
        threads: int | None = None,
        faces: bool = True,
        recognize: bool = False,
        precision: str = "float",
    ) -> Tagger:
        """Open ``backbone`` on ``device``; ``faces=False`` leaves face detection off.

        With ``recognize`` (and faces on), each face also gets its embedding, for
        grouping people, where face recognition is installed; it is left out, with
        a log line, where it is not; the embeddings are computed in helper
        processes (:func:`face_helper_processes`), stopped by :meth:`close`.
        ``precision`` picks the CPU graph (:data:`core.engine.runtime.PRECISIONS`).
        """
        spec = backbone if isinstance(backbone, BackboneSpec) else get_backbone_spec(backbone)
        runtime = open_runtime(
            spec, device=device, cache_dir=cache_dir, threads=threads, precision=precision
        )
        detector = FaceDetector() if faces else None
        encoder = None
        if faces and recognize:
            try:
                encoder = FaceEncoder(helper_processes=face_helper_processes())
            except RecognitionUnavailable as exc:
                log.info("%s", exc)
        return cls(
            spec,
            runtime,
            Vocabulary.bundled(),
            faces=detector,
            people=PeopleModel.bundled(),
            encoder=encoder,
        )

    def close(self) -> None:
        """Stop the face encoder's helper processes, if any (they start again when needed)."""
        if self.encoder is not None:
            self.encoder.close()

    def __enter__(self) -> Tagger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def data_config(self) -> DataConfig:
        return self.runtime.data_config

    @property
    def decode_short_side(self) -> int:
        """How small a photo's shorter side may be decoded for this backbone's view and faces."""
        backbone = input_short_side(self.data_config, self.spec.view)
        return max(backbone, DETECT_SHORT_SIDE) if self.faces is not None else backbone

    def probabilities(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Embeddings and ImageNet probabilities (logits scaled as tags read them) for a batch."""
        embeddings, logits = self.runtime.run(batch)
        return embeddings, softmax(logits * np.float32(self.spec.logit_scale))

    def infer(
        self, batch: np.ndarray, *, faces: Sequence[tuple[Face, ...] | None] | None = None
    ) -> tuple[np.ndarray, list[list[TagScore]]]:
        """Embeddings and stored-level suggestions for a batch in this backbone's view.

        Args:
            batch: The photos' inputs.
            faces: Per photo its faces, or None where detection did not run; the
                people tags use them (none given: the backbone's evidence alone).
        """
        embeddings, logits = self.runtime.run(batch)
        scaled = logits * np.float32(self.spec.logit_scale)
        suggestions = self.vocabulary.suggest(scaled)
        if self.people is not None:
            found = list(faces) if faces is not None else [None] * len(batch)
            extra = people_tags(found, softmax(scaled), model=self.people)
            suggestions = [s + e for s, e in zip(suggestions, extra, strict=True)]
        return embeddings, suggestions

    def tag_image(self, image: Image.Image) -> tuple[np.ndarray, list[TagScore]]:
        """One already-decoded RGB photo (the bot's path)."""
        embedding, suggestions, _ = self.tag_image_with_faces(image)
        return embedding, suggestions

    def tag_image_with_faces(
        self, image: Image.Image
    ) -> tuple[np.ndarray, list[TagScore], tuple[Face, ...] | None]:
        """One decoded RGB photo: embedding, suggestions, and its faces (None: detection off)."""
        found = self.faces.faces(image) if self.faces is not None else None
        pixels = to_input_array(image, self.data_config, view=self.spec.view)
        embeddings, suggestions = self.infer(pixels[None], faces=[found])
        return embeddings[0], suggestions[0], found


@dataclass(frozen=True)
class Prepared:
    """One photo read, decoded and preprocessed for a backbone, or why it could not be."""

    ref: PhotoRef
    pixels: np.ndarray | None
    width: int = 0
    height: int = 0
    format: str = ""
    error: str | None = None
    faces: tuple[Face, ...] | None = None
    detected: bool = False  # faces found now (to be stored), not known from before


def prepare(
    ref: PhotoRef,
    config: DataConfig,
    *,
    view: View = "whole",
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_download: int = DEFAULT_MAX_DOWNLOAD,
    detector: FaceDetector | None = None,
    known_faces: tuple[Face, ...] | None = None,
    encoder: FaceEncoder | None = None,
) -> Prepared:
    """Read, decode and preprocess one photo; failures become a reason, never an exception.

    With a ``detector``, the photo is decoded large enough for it and searched
    for faces, unless ``known_faces`` (stored for this version of the photo) are given.
    With an ``encoder``, the faces found get their embeddings from the same decoded copy.
    """
    short_side = input_short_side(config, view)
    if detector is not None and known_faces is None:
        short_side = max(short_side, DETECT_SHORT_SIDE)
    try:
        source: bytes | Path = (
            fetch_url(ref.uri, max_bytes=max_download) if ref.kind == "url" else Path(ref.uri)
        )
        decoded = decode_photo(source, min_short_side=short_side, max_pixels=max_pixels)
        pixels = to_input_array(decoded.image, config, view=view)
    except (DecodeError, FetchError) as exc:
        return Prepared(ref, None, error=str(exc))
    except Exception as exc:  # a decoder bug must cost one photo, not the batch
        log.exception("unexpected error preparing %s", ref.uri)
        return Prepared(ref, None, error=f"unexpected error: {exc.__class__.__name__}: {exc}")
    faces, detected = known_faces, False
    if detector is not None and known_faces is None:
        try:
            faces, detected = detector.faces(decoded.image), True
        except Exception:  # the photo's tags must not depend on the face search working
            log.exception("face detection failed on %s", ref.uri)
        if detected and encoder is not None:
            try:
                faces = encoder.embed(decoded.image, faces or ())
            except Exception:  # nor on recognition working: the faces are kept without
                log.exception("face embedding failed on %s", ref.uri)
    return Prepared(
        ref, pixels, decoded.width, decoded.height, decoded.format, faces=faces, detected=detected
    )


def iter_results(
    refs: Iterable[PhotoRef],
    *,
    tagger: Tagger,
    batch_size: int = DEFAULT_BATCH_SIZE,
    decode_workers: int | None = None,
    cancel: threading.Event | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    known_faces: dict[str, tuple[Face, ...]] | None = None,
) -> Iterator[list[PhotoResult]]:
    """Tag photos batch by batch; yields each batch's results as soon as they are ready.

    ``known_faces`` (by uri) are used instead of searching those photos again.
    """
    workers = decode_workers or os.cpu_count() or 2
    config, view = tagger.data_config, tagger.spec.view
    known = known_faces or {}
    refs_iter = iter(refs)
    window: deque[Future[Prepared]] = deque()
    if tagger.encoder is not None:
        tagger.encoder.start()  # its models load while the first photos decode
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="decode") as pool:

        def refill() -> None:
            # Keep two batches decoding ahead of inference, and no more (memory).
            while len(window) < 2 * batch_size:
                ref = next(refs_iter, None)
                if ref is None:
                    return
                window.append(
                    pool.submit(
                        prepare,
                        ref,
                        config,
                        view=view,
                        max_pixels=max_pixels,
                        detector=tagger.faces,
                        known_faces=known.get(ref.uri),
                        encoder=tagger.encoder,
                    )
                )

        refill()
        # Whole-photo inputs differ in shape (landscape, portrait, 3:2, 16:9...), and a
        # forward pass takes one shape: decoded photos wait by shape, and whenever
        # ``batch_size`` of them wait, the largest group runs (failures go with it).
        by_shape: dict[tuple[int, ...], list[Prepared]] = {}
        failed: list[Prepared] = []
        try:
            while window or by_shape or failed:
                if cancel is not None and cancel.is_set():
                    return
                while window and sum(map(len, by_shape.values())) + len(failed) < batch_size:
                    prepared = window.popleft().result()
                    refill()
                    if prepared.pixels is None:
                        failed.append(prepared)
                    else:
                        by_shape.setdefault(prepared.pixels.shape, []).append(prepared)
                batch = (
                    by_shape.pop(max(by_shape, key=lambda k: len(by_shape[k]))) if by_shape else []
                )
                batch, failed = batch + failed, []
                yield infer_batch(batch, tagger)
        finally:
            for future in window:
                future.cancel()


def infer_batch(batch: list[Prepared], tagger: Tagger) -> list[PhotoResult]:
    """Run one forward pass over the batch's decoded photos; failures become results too.

    The decoded photos must share one input shape (see :func:`iter_results`).
    """
    good = [p for p in batch if p.pixels is not None]
    outputs: dict[str, tuple[np.ndarray, list[TagScore]]] = {}
    if good:
        embeddings, suggestions = tagger.infer(
            np.stack([p.pixels for p in good]), faces=[p.faces for p in good]
        )
        for p, emb, sug in zip(good, embeddings, suggestions, strict=True):
            outputs[p.ref.uri] = (emb, sug)
    detector = tagger.faces.version if tagger.faces is not None else None
    encoder = tagger.encoder.version if tagger.encoder is not None else None
    results = []
    for p in batch:
        if p.ref.uri in outputs:
            emb, sug = outputs[p.ref.uri]
            results.append(
                PhotoResult(
                    p.ref,
                    p.width,
                    p.height,
                    p.format,
                    emb,
                    tuple(sug),
                    faces=p.faces if p.detected else None,
                    face_detector=detector if p.detected else None,
                    face_encoder=encoder if p.detected else None,
                )
            )
        else:
            # A photo that cannot be read counts as searched too: like its failed
            # analysis, it is tried again only once the file changes.
            results.append(
                PhotoResult(
                    p.ref,
                    error=p.error or "not tagged",
                    faces=() if detector else None,
                    face_detector=detector,
                    face_encoder=encoder,
                )
            )
    return results


def iter_tagging(
    refs: Iterable[PhotoRef],
    *,
    tagger: Tagger,
    store: Store,
    device: str = "auto",
    batch_size: int = DEFAULT_BATCH_SIZE,
    decode_workers: int | None = None,
    rescan: bool = False,
    cancel: threading.Event | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    runner: BatchRunner | None = None,
) -> Generator[tuple[list[PhotoResult], Progress], None, RunSummary]:
    """Tag photos with ``tagger``, storing each batch; yields (stored batch, progress).

    The generator form of :func:`tag_photos` for callers that run it as a
    background job (the app): each batch is in the store before it is yielded,
    and the :class:`RunSummary` is the generator's return value.

    Photos the same backbone already analysed, unchanged since (same size and
    mtime), are skipped unless ``rescan`` is set, as long as their faces were
    searched too (when the tagger has a face detector). A photo that failed is
    tried again once its file changed. Faces are stored with the rest of each batch.

    Args:
        refs: The photos, from :mod:`core.engine.sources`.
        tagger: The backbone to tag with.
        store: Where results go; written once per batch.
        device: Recorded with the run.
        batch_size: Photos per forward pass.
        decode_workers: Decoding threads (default: one per core).
        rescan: Tag again photos already done.
        cancel: Set it to stop after the batch in flight; what is done stays stored.
        max_pixels: Photos declaring more pixels are refused.
        runner: Where decoding and inference run (default: :func:`iter_results`, here
            on ``decode_workers`` threads); results are stored here all the same.
    """
    start = time.perf_counter()
    refs = list(refs)
    backbone = tagger.spec.name
    known_faces: dict[str, tuple[Face, ...]] = {}
    if rescan:
        todo = refs
    else:
        pending = {r.uri for r in store.pending(refs, backbone=backbone)}
        if tagger.faces is not None:
            known_faces = store.known_faces(
                refs,
                detector=tagger.faces.version,
                encoder=tagger.encoder.version if tagger.encoder is not None else None,
            )
            todo = [r for r in refs if r.uri in pending or r.uri not in known_faces]
        else:
            todo = [r for r in refs if r.uri in pending]
    run_id = store.start_run(
        backbone=backbone, device=device, runtime=tagger.runtime.name, total=len(todo)
    )
    done = failed = 0
    errors: list[tuple[str, str]] = []
    status = "failed"
    if runner is None:
        runner = functools.partial(iter_results, decode_workers=decode_workers)
    try:
        for results in runner(
            todo,
            tagger=tagger,
            batch_size=batch_size,
            cancel=cancel,
            max_pixels=max_pixels,
            known_faces=known_faces,
        ):
            store.save_results(results, run_id=run_id, backbone=backbone)
            done += len(results)
            bad = [(r.ref.uri, r.error or "") for r in results if not r.ok]
            failed += len(bad)
            errors.extend(bad)
            yield (
                results,
                Progress(
                    done, failed, len(todo), time.perf_counter() - start, results[-1].ref.name
                ),
            )
        cancelled = cancel is not None and cancel.is_set() and done < len(todo)
        status = "cancelled" if cancelled else "finished"
    finally:
        store.finish_run(run_id, status=status, done=done, failed=failed)
    return RunSummary(
        run_id=run_id,
        total=len(refs),
        tagged=done - failed,
        failed=failed,
        skipped=len(refs) - len(todo),
        cancelled=status == "cancelled",
        elapsed=time.perf_counter() - start,
        errors=tuple(errors),
    )


def tag_photos(
    refs: Iterable[PhotoRef],
    *,
    tagger: Tagger,
    store: Store,
    device: str = "auto",
    batch_size: int = DEFAULT_BATCH_SIZE,
    decode_workers: int | None = None,
    rescan: bool = False,
    progress: Callable[[Progress], None] | None = None,
    cancel: threading.Event | None = None,
    on_results: Callable[[list[PhotoResult]], None] | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    runner: BatchRunner | None = None,
) -> RunSummary:
    """Tag photos with ``tagger``, storing each batch as it finishes (see :func:`iter_tagging`).

    Args:
        refs: The photos, from :mod:`core.engine.sources`.
        tagger: The backbone to tag with.
        store: Where results go; written once per batch.
        device: Recorded with the run.
        batch_size: Photos per forward pass.
        decode_workers: Decoding threads (default: one per core).
        rescan: Tag again photos already done.
        progress: Called after each batch.
        cancel: Set it to stop after the batch in flight; what is done stays stored.
        on_results: Called with each stored batch (the GUI's and the CLI's view).
        max_pixels: Photos declaring more pixels are refused.
        runner: Where decoding and inference run (default: here, on threads).
    """
    steps = iter_tagging(
        refs,
        tagger=tagger,
        store=store,
        device=device,
        batch_size=batch_size,
        decode_workers=decode_workers,
        rescan=rescan,
        cancel=cancel,
        max_pixels=max_pixels,
        runner=runner,
    )
    while True:
        try:
            results, step = next(steps)
        except StopIteration as end:
            return end.value
        if on_results is not None:
            on_results(results)
        if progress is not None:
            progress(step)
