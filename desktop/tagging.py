"""A tagging run in its own process, reported to the window batch by batch.

The engine's work holds the GIL in many short stretches (glue between ONNX Runtime
calls, the vocabulary, SQLite writes) and some long ones (importing ONNX Runtime
and scikit-learn, a few hundred milliseconds each on a busy machine). In the
window's process each of them made a click or a repaint wait; in a process of
its own, at a lower priority, none can. The window's process never imports the
engine's heavy libraries.

:func:`tag_in_background` is the background job (:mod:`desktop.jobs`) that the
window runs: it starts the run's process, passes ``cancel`` on, and yields each
:class:`TaggingStep` the process sends. This module imports no Qt, so that the
run's process does not load it.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import threading
import time
from collections.abc import Generator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.engine.sources import PhotoRef
from core.errors import PhotoTaggerError
from core.learning.review import PhotoTag
from core.store import PhotoStatus

log = logging.getLogger(__name__)

BACKGROUND_NICENESS = 10
"""How much lower than the window's the run's priority is: the window's thread gets a core first."""
POLL_S = 0.1
"""How often the job looks at ``cancel`` and whether the run's process is still there."""
STOP_WAIT_S = 30.0
"""How long a stopped run may take to store its batch in flight and end."""


@dataclass(frozen=True)
class PhotoUpdate:
    """What the grid needs to know about one photo after the engine touched it."""

    uri: str
    photo_id: int | None
    status: PhotoStatus
    error: str | None
    tags: tuple[PhotoTag, ...]
    ref: PhotoRef | None = None  # the file as the run found it (new size or mtime: a new version)
    rejected: bool | None = None  # marked "not this one" in curation; None: not looked up


@dataclass(frozen=True)
class TaggingStep:
    """What a tagging run reports: a stage line while the backbone loads, then each batch.

    Attributes:
        stage: A line for the status bar (empty once batches come).
        progress: The :class:`core.engine.pipeline.Progress` after a batch, or None.
        updates: One :class:`PhotoUpdate` per photo of the batch.
    """

    stage: str = ""
    progress: Any = None
    updates: tuple[PhotoUpdate, ...] = ()


class RunProcessError(PhotoTaggerError):
    """The run's process failed or stopped before it said how the run ended."""


def fresh_ref(ref: PhotoRef) -> PhotoRef:
    """The ref with its file's size and mtime now: a file fixed or edited since is tagged again."""
    if ref.kind != "file":
        return ref
    try:
        stat = os.stat(ref.uri)
    except OSError:
        return ref  # gone: the run says so for this photo
    return PhotoRef(ref.uri, ref.kind, stat.st_size, stat.st_mtime_ns)


def tag_in_background(
    refs: list[PhotoRef],
    *,
    cancel: threading.Event,
    own_process: bool = True,
    **options: Any,
) -> Generator[TaggingStep, None, Any]:
    """One tagging run as a background job: yields :class:`TaggingStep`, returns the summary.

    The run itself happens in a new process (:func:`run_tagging`, which takes the
    same ``options``); this generator relays what it sends. ``own_process`` False
    runs it on this thread instead. ``cancel`` stops it
    after the batch in flight (what was done is stored). Returns None if
    cancelled while the backbone loaded.

    Raises:
        RunProcessError: With the run's own message when it failed, or when its
            process ended without one (killed, out of memory).
    """
    if not own_process:
        return (yield from tag_steps(refs, cancel=cancel, **options))
    import core.engine.pipeline  # noqa: F401  (what the steps and the summary are made of, unpickled here)

    yield TaggingStep(stage=f"Loading {options.get('backbone', 'the backbone')}…")
    context = multiprocessing.get_context("spawn")  # never fork a process that runs Qt
    messages = context.Queue()
    stop = context.Event()
    process = context.Process(
        target=run_tagging,
        args=(refs,),
        kwargs={"messages": messages, "stop": stop, **options},
        name="phototagger-run",
    )
    process.start()
    try:
        while True:
            if cancel.is_set():
                stop.set()
            try:
                kind, value = messages.get(timeout=POLL_S)
            except queue.Empty:
                if process.is_alive():
                    continue
                try:  # it may have ended just after its last word
                    kind, value = messages.get(timeout=POLL_S)
                except queue.Empty:
                    raise RunProcessError(
                        f"the tagging process stopped unexpectedly (exit code {process.exitcode})"
                    ) from None
            if kind == "step":
                yield value
            elif kind == "done":
                return value
            else:
                raise RunProcessError(value)
    finally:
        stop.set()
        deadline = time.monotonic() + STOP_WAIT_S
        while process.is_alive() and time.monotonic() < deadline:
            with suppress(queue.Empty):  # read on, so that its last words cannot block its exit
                messages.get(timeout=POLL_S)
        if process.is_alive():  # pragma: no cover - a run that ignores stop
            process.terminate()
        process.join(5)
        messages.close()


def run_tagging(
    refs: list[PhotoRef],
    *,
    messages: Any,
    stop: Any,
    **options: Any,
) -> None:
    """The run's process: tags ``refs`` and puts ("step", step), then ("done", summary) or
    ("error", message) on ``messages``; stops after the batch in flight once ``stop`` is set.

    ``options`` are those of :func:`tag_steps`. It runs below the window's priority
    and stops by itself if the window's process goes away.
    """
    if hasattr(os, "nice"):
        os.nice(BACKGROUND_NICENESS)
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(
            target=lambda: parent.join() or stop.set(), name="parent-watch", daemon=True
        ).start()
    try:
        steps = tag_steps(refs, cancel=stop, **options)
        while True:
            try:
                step = next(steps)
            except StopIteration as end:
                messages.put(("done", end.value))
                break
            messages.put(("step", step))
    except Exception as exc:  # every failure is a message in the window, not a traceback
        log.exception("tagging run failed")
        messages.put(("error", str(exc) or exc.__class__.__name__))
    messages.close()
    messages.join_thread()  # everything sent before the process ends


def tag_steps(
    refs: list[PhotoRef],
    *,
    backbone: str,
    device: str,
    db_path: Path,
    cache_dir: Path,
    threshold: float,
    top_k: int,
    cancel: Any,
    batch_size: int = 16,
    max_pixels: int = 150_000_000,
    detect_faces: bool = True,
    recognize_faces: bool = False,
    precision: str = "float",
    rescan: bool = False,
) -> Generator[TaggingStep, None, Any]:
    """Tag ``refs`` here: yields :class:`TaggingStep`, returns the run's summary.

    Opens the backbone, then tags batch by batch with its own Store on the same
    WAL file, learned suggestions applied to each batch. Each file is looked at
    again first, so one fixed since the folder was read is tagged; ``rescan`` tags
    the photos even if their file did not change (Retry).
    """
    from core.engine.pipeline import Tagger, iter_tagging
    from core.store import Store

    yield TaggingStep(stage=f"Loading {backbone}…")
    tagger = Tagger.open(
        backbone,
        device=device,
        cache_dir=cache_dir / "onnx",
        faces=detect_faces,
        recognize=recognize_faces,
        precision=precision,
    )
    with tagger:  # its face helper processes end with the run
        if cancel.is_set():
            return None
        yield TaggingStep(stage=f"Tagging with {tagger.spec.display_name}…")
        with Store(db_path) as store:
            steps = iter_tagging(
                [fresh_ref(r) for r in refs],
                tagger=tagger,
                store=store,
                device=device,
                batch_size=batch_size,
                rescan=rescan,
                cancel=cancel,
                max_pixels=max_pixels,
            )
            return (
                yield from _stored_steps(
                    steps, store, backbone=tagger.spec.name, threshold=threshold, top_k=top_k
                )
            )


def _stored_steps(
    steps: Generator[tuple[list[Any], Any], None, Any],
    store: Any,
    *,
    backbone: str,
    threshold: float,
    top_k: int,
) -> Generator[TaggingStep, None, Any]:
    """Each stored batch of ``steps`` with learned scores applied, as the grid's updates."""
    from core.learning.learned import LearnedScorer, apply_learned
    from desktop.tasks import load_updates  # tasks builds on this module's PhotoUpdate

    scorer = LearnedScorer.current(store, backbone=backbone)
    while True:
        try:
            results, progress = next(steps)
        except StopIteration as end:
            return end.value
        # Every result was saved, so each has an id.
        known = {p.uri: p.id for p in store.photos_with_uris(r.ref.uri for r in results)}
        ids = {r.ref.uri: known[r.ref.uri] for r in results}
        apply_learned(
            store, [ids[r.ref.uri] for r in results if r.ok], backbone=backbone, scorer=scorer
        )
        updates = load_updates(
            store,
            ids,
            threshold=threshold,
            top_k=top_k,
            refs={r.ref.uri: r.ref for r in results},
            look_up_rejects=False,
        )
        yield TaggingStep(progress=progress, updates=tuple(updates))
