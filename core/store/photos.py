"""Photos, tagging runs and their results (``photos``, ``runs``, ``analyses``, suggestions)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from core.engine.faces import Face
from core.engine.sources import PhotoRef
from core.engine.transforms import VIEWS_VERSION
from core.engine.vocabulary import TagScore
from core.errors import StoreError
from core.store.base import now
from core.store.faces import FacesStore
from core.store.states import PhotoStatus
from core.store.tags import suggestion_rows

TAGGING_SOURCES = ("imagenet", "hierarchy", "faces")
"""Suggestion sources a tagging run writes (and replaces when it tags a photo again)."""


@dataclass(frozen=True)
class PhotoResult:
    """What tagging learned about one photo, ready to be stored.

    ``faces`` are set only when the photo was searched for faces in this run
    (by ``face_detector``); they replace the photo's stored faces.
    """

    ref: PhotoRef
    width: int = 0
    height: int = 0
    format: str = ""
    embedding: np.ndarray | None = None
    suggestions: tuple[TagScore, ...] = ()
    error: str | None = None
    faces: tuple[Face, ...] | None = None
    face_detector: str | None = None
    face_encoder: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class PhotoRow:
    id: int
    uri: str
    kind: str
    status: PhotoStatus
    error: str | None
    width: int | None
    height: int | None


_PHOTO_COLUMNS = "id, uri, kind, status, error, width, height"


def _photo_row(row: tuple) -> PhotoRow:
    pid, uri, kind, status, error, width, height = row
    return PhotoRow(pid, uri, kind, PhotoStatus(status), error, width, height)


class PhotosStore(FacesStore):
    """Photos, runs and what runs found (faces included, written with the rest)."""

    # -- photos ---------------------------------------------------------------

    def photo_id(self, uri: str) -> int | None:
        row = self._db.execute("select id from photos where uri = ?", [uri]).fetchone()
        return row[0] if row else None

    def ensure_photo(self, ref: PhotoRef) -> int:
        """The photo's id, inserting it (status ``new``) if it is not known yet."""
        with self._db.atomic():
            return self._ensure_photo(ref)

    def _ensure_photo(self, ref: PhotoRef) -> int:
        self._db.execute(
            "insert into photos (uri, kind, size, mtime, status, added_at) values (?, ?, ?, ?, ?, ?)"
            " on conflict(uri) do nothing",
            [ref.uri, ref.kind, ref.size, ref.mtime, PhotoStatus.NEW.value, now()],
        )
        return self.photo_id(ref.uri)  # type: ignore[return-value]

    def add_photos(self, refs: Iterable[PhotoRef]) -> list[int]:
        """Register many photos in one transaction; returns their ids in order."""
        with self._db.atomic():
            return [self._ensure_photo(ref) for ref in refs]

    def photo(self, photo_id: int) -> PhotoRow:
        row = self._db.execute(
            f"select {_PHOTO_COLUMNS} from photos where id = ?", [photo_id]
        ).fetchone()
        if row is None:
            raise StoreError(f"no photo with id {photo_id}")
        return _photo_row(row)

    def photos(self, *, uri_prefix: str | None = None) -> Iterator[PhotoRow]:
        sql = f"select {_PHOTO_COLUMNS} from photos"
        params: list = []
        if uri_prefix:
            sql += " where uri >= ? and uri < ?"
            params = [uri_prefix, uri_prefix + "\U0010ffff"]
        for row in self._db.execute(sql + " order by uri", params):
            yield _photo_row(row)

    def photos_by_id(self, photo_ids: Iterable[int]) -> dict[int, PhotoRow]:
        """Many photos' rows at once, by id (ids not in the store are left out)."""
        return {
            row[0]: _photo_row(row)
            for row in self._rows_where_in(
                f"select {_PHOTO_COLUMNS} from photos where id in ({{ids}})", photo_ids
            )
        }

    def photos_with_uris(self, uris: Iterable[str]) -> list[PhotoRow]:
        """The known photos among ``uris``, in that order (unknown ones left out), in a few queries."""
        uris = list(dict.fromkeys(uris))
        found = {
            row[1]: _photo_row(row)
            for row in self._rows_where_in(
                f"select {_PHOTO_COLUMNS} from photos where uri in ({{ids}})", uris
            )
        }
        return [found[uri] for uri in uris if uri in found]

    def photo_uris(self, photo_ids: Iterable[int]) -> dict[int, str]:
        """Many photos' uris at once, by id."""
        return dict(
            self._rows_where_in("select id, uri from photos where id in ({ids})", photo_ids)
        )

    def photo_sizes(self, photo_ids: Iterable[int]) -> dict[int, tuple[int | None, int | None]]:
        """Many photos' (width, height) at once, by id; None where not yet decoded."""
        return {
            pid: (w, h)
            for pid, w, h in self._rows_where_in(
                "select id, width, height from photos where id in ({ids})", photo_ids
            )
        }

    def find_photo(self, text: str) -> PhotoRow:
        """A photo by id, exact uri, or absolute path of a file given relatively."""
        candidates = [text, os.path.abspath(text)]
        for uri in candidates:
            found = self.photo_id(uri)
            if found is not None:
                return self.photo(found)
        if text.isdigit():
            return self.photo(int(text))
        raise StoreError(f"no photo {text!r} in the database; tag it first")

    # -- runs and results ---------------------------------------------------------

    def start_run(self, *, backbone: str, device: str, runtime: str, total: int) -> int:
        return self._insert_row(
            "runs",
            {
                "backbone": backbone,
                "device": device,
                "runtime": runtime,
                "started_at": now(),
                "status": "running",
                "total": total,
                "done": 0,
                "failed": 0,
            },
        )

    def finish_run(self, run_id: int, *, status: str, done: int, failed: int) -> None:
        with self._db.atomic():
            self._db["runs"].update(
                run_id, {"finished_at": now(), "status": status, "done": done, "failed": failed}
            )

    def run(self, run_id: int) -> dict:
        """One run's row (backbone, status, counts, times)."""
        rows = list(self._db["runs"].rows_where("id = ?", [run_id]))
        if not rows:
            raise StoreError(f"no run {run_id}")
        return rows[0]

    def runs(self) -> list[dict]:
        """Every run's row, oldest first."""
        return list(self._db["runs"].rows_where(order_by="id"))

    def analysed_count(self, run_id: int) -> int:
        """How many photos a run has analysed so far."""
        return int(
            self._db.execute("select count(*) from analyses where run_id = ?", [run_id]).fetchone()[
                0
            ]
        )

    def pending(self, refs: Iterable[PhotoRef], *, backbone: str) -> list[PhotoRef]:
        """The refs not yet analysed by ``backbone`` in their current version (size, mtime).

        An analysis made under another :data:`core.engine.transforms.VIEWS_VERSION` counts
        as not done.
        """
        refs = list(refs)
        done = {
            (uri, size, mtime)
            for uri, size, mtime in self._db.execute(
                "select p.uri, a.size, a.mtime from analyses a join photos p on p.id = a.photo_id"
                " where a.backbone = ? and a.view = ?",
                [backbone, VIEWS_VERSION],
            )
        }
        return [r for r in refs if (r.uri, r.size, r.mtime) not in done]

    def save_results(self, results: Iterable[PhotoResult], *, run_id: int, backbone: str) -> None:
        """Store one batch of results in a single transaction."""
        stamp = now()
        results = list(results)
        with self._db.atomic():
            for result in results:
                self._save_result(result, run_id=run_id, backbone=backbone, now=stamp)
            # Counted up, not recounted: a recount scans every analysis of the run, and
            # over an archive of millions each batch would pay for all before it.
            self._db.execute("update runs set done = done + ? where id = ?", [len(results), run_id])

    def _save_result(self, result: PhotoResult, *, run_id: int, backbone: str, now: str) -> None:
        photo_id = self._ensure_photo(result.ref)
        status = PhotoStatus.TAGGED if result.ok else PhotoStatus.FAILED
        self._db.execute(
            "update photos set size = ?, mtime = ?, width = coalesce(?, width),"
            " height = coalesce(?, height), format = coalesce(?, format), status = ?,"
            " error = ? where id = ?",
            [
                result.ref.size,
                result.ref.mtime,
                result.width or None,
                result.height or None,
                result.format or None,
                status.value,
                result.error,
                photo_id,
            ],
        )
        embedding = result.embedding
        self._db["analyses"].upsert(
            {
                "photo_id": photo_id,
                "backbone": backbone,
                "run_id": run_id,
                "size": result.ref.size,
                "mtime": result.ref.mtime,
                "status": status.value,
                "error": result.error,
                "embedding": None if embedding is None else embedding.astype(np.float16).tobytes(),
                "dim": None if embedding is None else int(embedding.shape[-1]),
                "analysed_at": now,
                "view": VIEWS_VERSION,
            },
            pk=("photo_id", "backbone"),
        )
        marks = ",".join("?" * len(TAGGING_SOURCES))
        self._db.execute(
            f"delete from suggestions where photo_id = ? and backbone = ? and source in ({marks})",
            [photo_id, backbone, *TAGGING_SOURCES],
        )
        self._db["suggestions"].insert_all(
            suggestion_rows(photo_id, result.suggestions, backbone=backbone, run_id=run_id)
        )
        if result.faces is not None and result.face_detector:
            self._save_faces(
                photo_id,
                result.ref,
                result.faces,
                detector=result.face_detector,
                encoder=result.face_encoder,
                now=now,
            )

    def embeddings(self, *, backbone: str) -> tuple[list[int], np.ndarray]:
        """Photo ids and their embeddings (float32, one row each) for ``backbone``, current views version only."""
        rows = self._db.execute(
            "select photo_id, embedding, dim from analyses where backbone = ? and view = ?"
            " and embedding is not null order by photo_id",
            [backbone, VIEWS_VERSION],
        ).fetchall()
        if not rows:
            return [], np.zeros((0, 0), dtype=np.float32)
        ids = [r[0] for r in rows]
        matrix = np.stack([np.frombuffer(r[1], dtype=np.float16) for r in rows]).astype(np.float32)
        return ids, matrix

    def note_metadata_written(
        self, uri: str, *, before: tuple[int, int], after: tuple[int, int]
    ) -> None:
        """Carry a photo's analyses over a metadata-only rewrite of its file.

        Writing keywords into a photo changes its size and mtime but not a pixel,
        so every cached result that was made from the version ``before`` (size,
        mtime in ns) now stands for the version ``after``; the next tagging run
        then sees nothing to do. Results made from another version stay stale.
        """
        photo_id = self.photo_id(uri)
        if photo_id is None:
            return
        with self._db.atomic():
            for table in ("analyses", "photo_quality", "face_scans", "photos"):
                key = "id" if table == "photos" else "photo_id"
                self._db.execute(
                    f"update {table} set size = ?, mtime = ? where {key} = ? and size = ? and mtime = ?",
                    [*after, photo_id, *before],
                )
