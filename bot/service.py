"""The engine as the bot's handlers use it: async methods over blocking core calls.

Decoding and inference run on a small pool of their own, so a flood of photos
queues there instead of starving the event loop or oversubscribing the CPU;
every database write runs on one dedicated thread that owns the bot's only
:class:`~core.store.Store` (SQLite connections belong to the thread that opened
them). The tagger is opened once per bot run, on the first photo, unless a
factory hands in one already open (the desktop app's, or the tests').
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.config import BotConfig, ChatPrefs
from core.engine.faces import CONFIDENT_FACE
from core.engine.imaging import decode_photo
from core.engine.sources import PhotoRef
from core.learning.review import PhotoTag, photo_tags
from core.store import Decision, PhotoResult, Store, TagState

if TYPE_CHECKING:
    from core.engine.pipeline import Tagger

log = logging.getLogger(__name__)

TaggerFactory = Callable[[BotConfig], "Tagger"]


def open_default_tagger(config: BotConfig) -> Tagger:
    """The desktop app's backbone on the settings' device, from the shared ONNX cache."""
    from core.engine.pipeline import Tagger
    from core.engine.runtime import resolve_device
    from core.settings import cache_dir

    settings = config.settings
    return Tagger.open(
        settings.backbone,
        device=resolve_device(settings.device),
        cache_dir=cache_dir() / "onnx",
        faces=settings.detect_faces,
        precision=settings.precision,
    )


@dataclass(frozen=True)
class TaggedPhoto:
    """What the bot answers for one photo: its record in the store and the tags to show.

    ``people`` counts the confident faces (None when face detection is off); the
    bot says how many people, never who.
    """

    photo_id: int
    tags: tuple[PhotoTag, ...]
    people: int | None = None


class PhotoService:
    """Tags Telegram files and records votes, off the event loop.

    Args:
        config: The bot run's configuration.
        tagger_factory: Opens the tagger on first use (default: :func:`open_default_tagger`).
    """

    def __init__(self, config: BotConfig, tagger_factory: TaggerFactory | None = None) -> None:
        self.config = config
        self._tagger_factory = tagger_factory or open_default_tagger
        self._tagger: Tagger | None = None
        self._tagger_lock = threading.Lock()
        self._infer_pool = ThreadPoolExecutor(
            max_workers=max(1, config.inference_workers), thread_name_prefix="bot-infer"
        )
        self._store_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bot-store")
        self._store: Store | None = None  # touched only on the bot-store thread
        self._run_id: int | None = None
        self._learned_ok = True

    # -- async API for handlers ---------------------------------------------------------------

    async def tag(self, data: bytes, *, file_unique_id: str, prefs: ChatPrefs) -> TaggedPhoto:
        """Decode and tag one Telegram file, store it, and return the tags to show.

        Raises:
            DecodeError: The file is not an image this engine reads (the handler says so).
        """
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(self._infer_pool, self._infer, data, file_unique_id)
        return await loop.run_in_executor(self._store_pool, self._save, result, prefs)

    async def vote(self, photo_id: int, tag: str, action: Decision) -> None:
        """Record one accept or reject, committed at once, as the desktop's review does."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._store_pool, self._record, photo_id, tag, action)

    async def people(self, photo_id: int) -> int | None:
        """How many people the photo's faces show (None: never searched)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._store_pool,
            lambda: self._open_store().face_count(photo_id, min_score=CONFIDENT_FACE),
        )

    async def tag_states(self, photo_id: int) -> dict[str, TagState]:
        """Each decided tag's state on a photo (the reply is redrawn from the store's truth).

        Removed tags are left out: they are as if never decided.
        """
        loop = asyncio.get_running_loop()
        decisions = await loop.run_in_executor(
            self._store_pool, lambda: self._open_store().tag_states(photo_id)
        )
        states = {tag: TagState.after(action) for tag, action in decisions.items()}
        return {tag: state for tag, state in states.items() if state is not None}

    async def chat_prefs(self) -> dict[int, ChatPrefs]:
        """Every chat's stored /settings over the run's defaults (unknown keys are ignored)."""
        loop = asyncio.get_running_loop()
        stored = await loop.run_in_executor(
            self._store_pool, lambda: self._open_store().chat_settings()
        )
        defaults = self.config.defaults
        prefs = {}
        for chat_id, values in stored.items():
            known = {k: v for k, v in values.items() if k in ChatPrefs.__dataclass_fields__}
            try:
                prefs[chat_id] = dataclasses.replace(defaults, **known)
            except TypeError:  # pragma: no cover - a hand-edited row
                continue
        return prefs

    async def save_prefs(self, chat_id: int, prefs: ChatPrefs) -> None:
        """Store one chat's /settings, so they outlive a restart."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(
            self._store_pool,
            lambda: self._open_store().save_chat_settings(chat_id, dataclasses.asdict(prefs)),
        )

    async def warm_up(self) -> None:
        """Open the tagger and the store now (the runner does it before saying 'running')."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._infer_pool, self.tagger)
        await loop.run_in_executor(self._store_pool, self._open_store)

    def close(self) -> None:
        """Finish the store's run record and close it; waits for writes in flight."""
        self._store_pool.submit(self._close_store).result(timeout=30)
        self._store_pool.shutdown(wait=True)
        self._infer_pool.shutdown(wait=True, cancel_futures=True)

    # -- blocking work, on the pools -----------------------------------------------------------

    def tagger(self) -> Tagger:
        with self._tagger_lock:
            if self._tagger is None:
                self._tagger = self._tagger_factory(self.config)
            return self._tagger

    def _infer(self, data: bytes, file_unique_id: str) -> PhotoResult:
        tagger = self.tagger()
        decoded = decode_photo(
            data,
            min_short_side=tagger.decode_short_side,
            max_pixels=self.config.settings.max_megapixels * 1_000_000,
        )
        embedding, suggestions, faces = tagger.tag_image_with_faces(decoded.image)
        ref = PhotoRef(uri=f"telegram:{file_unique_id}", kind="telegram", size=len(data))
        return PhotoResult(
            ref,
            decoded.width,
            decoded.height,
            decoded.format,
            embedding,
            tuple(suggestions),
            faces=faces,
            face_detector=tagger.faces.version if tagger.faces is not None else None,
        )

    def _open_store(self) -> Store:
        if self._store is None:
            self._store = Store(self.config.database_path)
            tagger = self.tagger()
            self._run_id = self._store.start_run(
                backbone=tagger.spec.name, device="bot", runtime=tagger.runtime.name, total=0
            )
        return self._store

    def _save(self, result: PhotoResult, prefs: ChatPrefs) -> TaggedPhoto:
        store = self._open_store()
        backbone = self.tagger().spec.name
        store.save_results([result], run_id=self._run_id, backbone=backbone)  # type: ignore[arg-type]
        photo_id = store.photo_id(result.ref.uri)
        assert photo_id is not None  # save_results just inserted it
        if result.embedding is not None:
            self._add_learned(store, photo_id, backbone)
        tags = photo_tags(
            store, photo_id, threshold=prefs.threshold, top_k=prefs.top_k, backbone=backbone
        )
        people = store.face_count(photo_id, min_score=CONFIDENT_FACE)
        return TaggedPhoto(photo_id, tuple(tags), people)

    def _add_learned(self, store: Store, photo_id: int, backbone: str) -> None:
        """Add the kept learned version's suggestions, through the engine's one function."""
        if not self._learned_ok:
            return
        try:
            from core.learning.learned import apply_learned

            apply_learned(store, [photo_id], backbone=backbone)
        except Exception as exc:  # learning is a bonus: its failure must not cost the answer
            self._learned_ok = False
            log.warning("learned tags are off for this run: %s: %s", type(exc).__name__, exc)

    def _record(self, photo_id: int, tag: str, action: Decision) -> None:
        self._open_store().record_decision(photo_id, tag, action, origin="bot")

    def _close_store(self) -> None:
        store, self._store = self._store, None
        if store is None:
            return
        if self._run_id is not None:
            done = store.analysed_count(self._run_id)
            store.finish_run(self._run_id, status="finished", done=done, failed=0)
        store.close()

    def __repr__(self) -> str:
        return f"PhotoService(database={str(self.config.database_path)!r})"
