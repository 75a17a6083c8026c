"""PhotoTagger's SQLite store, through sqlite-utils.

Tables: photos, runs, analyses (one per photo and backbone: the embedding, or
why it failed), suggestions, decisions, faces (and face_scans: which version of
each photo was searched for faces, by which detector). The schema is built by sqlite-utils
migrations at open; WAL and a busy timeout let the GUI's database worker, the
inference worker and the bot share one file. Each batch of results is written
in one transaction, and a decision is committed the moment it is recorded.
Open one :class:`Store` per thread.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import numpy as np
from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from core.engine.faces import Face, match_boxes
from core.engine.sources import PhotoRef
from core.engine.transforms import VIEWS_VERSION
from core.engine.vocabulary import TagScore, normalise_tag
from core.errors import StoreError

Action = Literal["accept", "reject", "add", "remove", "pick", "unpick", "rate"]
ACTIONS: tuple[Action, ...] = ("accept", "reject", "add", "remove", "pick", "unpick", "rate")

migrations = Migrations("phototagger")


@migrations()
def m001_initial(db: Database) -> None:
    db["photos"].create(
        {
            "id": int,
            "uri": str,
            "kind": str,
            "size": int,
            "mtime": int,
            "width": int,
            "height": int,
            "format": str,
            "status": str,
            "error": str,
            "added_at": str,
        },
        pk="id",
        not_null={"uri", "kind", "status"},
        defaults={"status": "new"},
    )
    db["photos"].create_index(["uri"], unique=True)
    db["runs"].create(
        {
            "id": int,
            "backbone": str,
            "device": str,
            "runtime": str,
            "started_at": str,
            "finished_at": str,
            "status": str,
            "total": int,
            "done": int,
            "failed": int,
        },
        pk="id",
    )
    db["analyses"].create(
        {
            "photo_id": int,
            "backbone": str,
            "run_id": int,
            "size": int,
            "mtime": int,
            "status": str,
            "error": str,
            "embedding": bytes,
            "dim": int,
            "analysed_at": str,
        },
        pk=("photo_id", "backbone"),
        foreign_keys=[("photo_id", "photos"), ("run_id", "runs")],
    )
    db["suggestions"].create(
        {
            "id": int,
            "photo_id": int,
            "backbone": str,
            "tag": str,
            "score": float,
            "source": str,
            "run_id": int,
        },
        pk="id",
        foreign_keys=[("photo_id", "photos")],
    )
    db["suggestions"].create_index(["photo_id", "backbone", "source", "tag"], unique=True)
    db["suggestions"].create_index(["tag"])
    db["decisions"].create(
        {"id": int, "photo_id": int, "tag": str, "action": str, "origin": str, "decided_at": str},
        pk="id",
        foreign_keys=[("photo_id", "photos")],
        not_null={"tag", "action"},
    )
    db["decisions"].create_index(["photo_id", "tag"])


@migrations()
def m002_heads(db: Database) -> None:
    # Trained heads (core.learning), versioned: the newest per backbone tags.
    db["heads"].create(
        {
            "id": int,
            "backbone": str,
            "kind": str,
            "created_at": str,
            "tags": str,
            "thresholds": str,
            "metrics": str,
            "weights": bytes,
            "decisions_count": int,
            "last_decision_id": int,
        },
        pk="id",
        not_null={"backbone", "kind", "tags", "weights"},
    )
    db["heads"].create_index(["backbone", "id"])


@migrations()
def m003_curation(db: Database) -> None:
    # Star ratings are decisions with a number (core.curation.curate); pixel measures and the
    # perceptual hash are cached per photo version so curating again decodes nothing.
    db["decisions"].add_column("value", float)
    db["photo_quality"].create(
        {
            "photo_id": int,
            "size": int,
            "mtime": int,
            "dhash": str,
            "sharpness": float,
            "exposure": float,
            "noise": float,
            "megapixels": float,
            "jpeg_quality": float,
            "error": str,
        },
        pk="photo_id",
        foreign_keys=[("photo_id", "photos")],
    )


@migrations()
def m004_views(db: Database) -> None:
    # How backbones were shown the photo (core.engine.transforms.VIEWS_VERSION) is kept with
    # each analysis and head: rows of another version are analysed again and such heads
    # set aside. Rows from before have none, so they count as another version.
    db["analyses"].add_column("view", str)
    db["heads"].add_column("view", str)


@migrations()
def m005_faces(db: Database) -> None:
    # Faces belong to the photo, not to a backbone. Box and landmarks are JSON lists of
    # fractions of the photo's width and height. A scan row records that a version of
    # the photo (size, mtime) was searched by a detector, faces found or not, so a re-run
    # skips it.
    db["faces"].create(
        {
            "id": int,
            "photo_id": int,
            "box": str,
            "score": float,
            "landmarks": str,
            "detector": str,
        },
        pk="id",
        foreign_keys=[("photo_id", "photos")],
        not_null={"photo_id", "box", "score", "detector"},
    )
    db["faces"].create_index(["photo_id"])
    db["face_scans"].create(
        {
            "photo_id": int,
            "size": int,
            "mtime": int,
            "detector": str,
            "faces": int,
            "scanned_at": str,
        },
        pk="photo_id",
        foreign_keys=[("photo_id", "photos")],
    )


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
    status: str
    error: str | None
    width: int | None
    height: int | None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Store:
    """A connection to the PhotoTagger database. One per thread."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30.0, check_same_thread=True)
            self.db = Database(conn)
            self.db.execute("PRAGMA busy_timeout = 30000")
            self.db.execute("PRAGMA foreign_keys = ON")
            if self.path != ":memory:":
                self.db.execute("PRAGMA journal_mode = WAL")
                self.db.execute("PRAGMA synchronous = NORMAL")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open the database {self.path}: {exc}") from exc

    def _migrate(self) -> None:
        known = {m.name for m in migrations._migrations}
        applied = {m.name for m in migrations.applied(self.db)}
        unknown = sorted(applied - known)
        if unknown:
            raise StoreError(
                f"the database {self.path} was written by a newer PhotoTagger "
                f"(schema steps {', '.join(unknown)}); update PhotoTagger to open it"
            )
        migrations.apply(self.db)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- photos ---------------------------------------------------------------

    def photo_id(self, uri: str) -> int | None:
        row = self.db.execute("select id from photos where uri = ?", [uri]).fetchone()
        return row[0] if row else None

    def ensure_photo(self, ref: PhotoRef) -> int:
        """The photo's id, inserting it (status ``new``) if it is not known yet."""
        with self.db.atomic():
            return self._ensure_photo(ref)

    def _ensure_photo(self, ref: PhotoRef) -> int:
        self.db.execute(
            "insert into photos (uri, kind, size, mtime, status, added_at) values (?, ?, ?, ?, 'new', ?)"
            " on conflict(uri) do nothing",
            [ref.uri, ref.kind, ref.size, ref.mtime, _now()],
        )
        return self.photo_id(ref.uri)  # type: ignore[return-value]

    def add_photos(self, refs: Iterable[PhotoRef]) -> list[int]:
        """Register many photos in one transaction; returns their ids in order."""
        with self.db.atomic():
            return [self._ensure_photo(ref) for ref in refs]

    def photo(self, photo_id: int) -> PhotoRow:
        row = self.db.execute(
            "select id, uri, kind, status, error, width, height from photos where id = ?",
            [photo_id],
        ).fetchone()
        if row is None:
            raise StoreError(f"no photo with id {photo_id}")
        return PhotoRow(*row)

    def photos(self, *, uri_prefix: str | None = None) -> Iterator[PhotoRow]:
        sql = "select id, uri, kind, status, error, width, height from photos"
        params: list = []
        if uri_prefix:
            sql += " where uri >= ? and uri < ?"
            params = [uri_prefix, uri_prefix + "\U0010ffff"]
        for row in self.db.execute(sql + " order by uri", params):
            yield PhotoRow(*row)

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
        with self.db.atomic():
            return (
                self.db["runs"]
                .insert(
                    {
                        "backbone": backbone,
                        "device": device,
                        "runtime": runtime,
                        "started_at": _now(),
                        "status": "running",
                        "total": total,
                        "done": 0,
                        "failed": 0,
                    }
                )
                .last_pk
            )

    def finish_run(self, run_id: int, *, status: str, done: int, failed: int) -> None:
        with self.db.atomic():
            self.db["runs"].update(
                run_id, {"finished_at": _now(), "status": status, "done": done, "failed": failed}
            )

    def pending(self, refs: Iterable[PhotoRef], *, backbone: str) -> list[PhotoRef]:
        """The refs not yet analysed by ``backbone`` in their current version (size, mtime).

        An analysis made under another :data:`core.engine.transforms.VIEWS_VERSION` counts
        as not done.
        """
        refs = list(refs)
        done = {
            (uri, size, mtime)
            for uri, size, mtime in self.db.execute(
                "select p.uri, a.size, a.mtime from analyses a join photos p on p.id = a.photo_id"
                " where a.backbone = ? and a.view = ?",
                [backbone, VIEWS_VERSION],
            )
        }
        return [r for r in refs if (r.uri, r.size, r.mtime) not in done]

    def save_results(self, results: Iterable[PhotoResult], *, run_id: int, backbone: str) -> None:
        """Store one batch of results in a single transaction."""
        now = _now()
        results = list(results)
        with self.db.atomic():
            for result in results:
                photo_id = self._ensure_photo(result.ref)
                status = "tagged" if result.ok else "failed"
                self.db.execute(
                    "update photos set size = ?, mtime = ?, width = coalesce(?, width),"
                    " height = coalesce(?, height), format = coalesce(?, format), status = ?,"
                    " error = ? where id = ?",
                    [
                        result.ref.size,
                        result.ref.mtime,
                        result.width or None,
                        result.height or None,
                        result.format or None,
                        status,
                        result.error,
                        photo_id,
                    ],
                )
                embedding = result.embedding
                self.db["analyses"].upsert(
                    {
                        "photo_id": photo_id,
                        "backbone": backbone,
                        "run_id": run_id,
                        "size": result.ref.size,
                        "mtime": result.ref.mtime,
                        "status": status,
                        "error": result.error,
                        "embedding": None
                        if embedding is None
                        else embedding.astype(np.float16).tobytes(),
                        "dim": None if embedding is None else int(embedding.shape[-1]),
                        "analysed_at": now,
                        "view": VIEWS_VERSION,
                    },
                    pk=("photo_id", "backbone"),
                )
                self.db.execute(
                    "delete from suggestions where photo_id = ? and backbone = ?"
                    " and source in ('imagenet', 'hierarchy', 'faces')",
                    [photo_id, backbone],
                )
                self.db["suggestions"].insert_all(
                    {
                        "photo_id": photo_id,
                        "backbone": backbone,
                        "tag": s.tag,
                        "score": s.score,
                        "source": s.source,
                        "run_id": run_id,
                    }
                    for s in result.suggestions
                )
                if result.faces is not None and result.face_detector:
                    self._save_faces(photo_id, result, now)
            # Counted up, not recounted: a recount scans every analysis of the run, and
            # over an archive of millions each batch would pay for all before it.
            self.db.execute("update runs set done = done + ? where id = ?", [len(results), run_id])

    def _save_faces(self, photo_id: int, result: PhotoResult, now: str) -> None:
        faces = result.faces or ()
        # A face found again (the same place in the photo) keeps its row, and with it
        # its person and what the user said about it; faces no longer found go.
        old = {
            fid: tuple(json.loads(box))
            for fid, box in self.db.execute(
                "select id, box from faces where photo_id = ?", [photo_id]
            )
        }
        kept = match_boxes([f.box for f in faces], old)
        gone = [fid for fid in old if fid not in kept.values()]
        for fid in gone:
            self.db.execute("delete from face_rejections where face_id = ?", [fid])
            self.db.execute("delete from faces where id = ?", [fid])
        for i, f in enumerate(faces):
            row = {
                "photo_id": photo_id,
                "box": json.dumps(list(f.box)),
                "score": f.score,
                "landmarks": json.dumps([list(p) for p in f.landmarks]),
                "detector": result.face_detector,
                "embedding": None
                if f.embedding is None
                else np.asarray(f.embedding, dtype=np.float32).tobytes(),
                "encoder": result.face_encoder if f.embedding is not None else None,
            }
            if i in kept:
                self.db["faces"].update(kept[i], row)
            else:
                self.db["faces"].insert(row)
        self.db["face_scans"].upsert(
            {
                "photo_id": photo_id,
                "size": result.ref.size,
                "mtime": result.ref.mtime,
                "detector": result.face_detector,
                "encoder": result.face_encoder,
                "faces": len(faces),
                "scanned_at": now,
            },
            pk="photo_id",
        )

    # -- faces -------------------------------------------------------------------

    def known_faces(
        self, refs: Iterable[PhotoRef], *, detector: str, encoder: str | None = None
    ) -> dict[str, tuple[Face, ...]]:
        """Faces of the refs already searched by ``detector`` in their current version, by uri.

        Photos missing here were never searched, changed since, or were searched
        by another detector (or other detector settings); with ``encoder``, also
        those whose faces were not embedded by that encoder.
        """
        wanted = {(r.uri, r.size, r.mtime) for r in refs}
        scanned = {
            pid: uri
            for pid, uri, size, mtime, enc in self.db.execute(
                "select s.photo_id, p.uri, s.size, s.mtime, s.encoder from face_scans s"
                " join photos p on p.id = s.photo_id where s.detector = ?",
                [detector],
            )
            if (uri, size, mtime) in wanted and (encoder is None or enc == encoder)
        }
        found = self.faces_for(scanned)
        return {uri: tuple(found[pid]) for pid, uri in scanned.items()}

    def faces(self, photo_id: int) -> list[Face]:
        """A photo's stored faces, largest first."""
        return self.faces_for([photo_id])[photo_id]

    def faces_for(self, photo_ids: Iterable[int]) -> dict[int, list[Face]]:
        """Stored faces of many photos (largest first), in a few queries."""
        ids = list(photo_ids)
        found: dict[int, list[Face]] = {pid: [] for pid in ids}
        for start in range(0, len(ids), 900):  # SQLite's bound-parameter limit
            chunk = ids[start : start + 900]
            for pid, box, score, landmarks in self.db.execute(
                "select photo_id, box, score, landmarks from faces"
                f" where photo_id in ({','.join('?' * len(chunk))}) order by id",
                chunk,
            ):
                points = tuple(tuple(p) for p in json.loads(landmarks or "[]"))
                found[pid].append(Face(tuple(json.loads(box)), score, points))
        for faces in found.values():
            faces.sort(key=lambda f: -f.area)
        return found

    def face_count(self, photo_id: int, *, min_score: float) -> int | None:
        """How many of a photo's faces are at least ``min_score`` sure; None if never searched."""
        if (
            self.db.execute("select 1 from face_scans where photo_id = ?", [photo_id]).fetchone()
            is None
        ):
            return None
        return self.db.execute(
            "select count(*) from faces where photo_id = ? and score >= ?", [photo_id, min_score]
        ).fetchone()[0]

    def face_counts(self, *, min_score: float) -> dict[int, int]:
        """Per searched photo, how many of its faces are at least ``min_score`` sure."""
        counts = {pid: 0 for (pid,) in self.db.execute("select photo_id from face_scans")}
        for pid, count in self.db.execute(
            "select photo_id, count(*) from faces where score >= ? group by photo_id", [min_score]
        ):
            counts[pid] = count
        return counts

    def replace_suggestions(
        self,
        photo_id: int,
        suggestions: Iterable[TagScore],
        *,
        backbone: str,
        sources: Iterable[str],
    ) -> None:
        """Swap one photo's suggestions from the given sources (refinement, heads) atomically."""
        sources = tuple(sources)
        with self.db.atomic():
            marks = ",".join("?" * len(sources))
            self.db.execute(
                f"delete from suggestions where photo_id = ? and backbone = ? and source in ({marks})",
                [photo_id, backbone, *sources],
            )
            self.db["suggestions"].insert_all(
                {
                    "photo_id": photo_id,
                    "backbone": backbone,
                    "tag": s.tag,
                    "score": s.score,
                    "source": s.source,
                    "run_id": None,
                }
                for s in suggestions
            )

    def suggestions(self, photo_id: int, *, backbone: str | None = None) -> list[TagScore]:
        sql = "select tag, score, source from suggestions where photo_id = ?"
        params: list = [photo_id]
        if backbone:
            sql += " and backbone = ?"
            params.append(backbone)
        rows = self.db.execute(sql + " order by score desc", params).fetchall()
        return [TagScore(tag, score, source) for tag, score, source in rows]

    def suggestions_for(
        self, photo_ids: Iterable[int], *, backbone: str | None = None
    ) -> dict[int, list[TagScore]]:
        """Suggestions of many photos in a few queries (the GUI's grid of thousands)."""
        ids = list(photo_ids)
        found: dict[int, list[TagScore]] = {pid: [] for pid in ids}
        for start in range(0, len(ids), 900):  # SQLite's bound-parameter limit
            chunk = ids[start : start + 900]
            sql = (
                "select photo_id, tag, score, source from suggestions"
                f" where photo_id in ({','.join('?' * len(chunk))})"
            )
            params: list = list(chunk)
            if backbone:
                sql += " and backbone = ?"
                params.append(backbone)
            for pid, tag, score, source in self.db.execute(sql + " order by score desc", params):
                found[pid].append(TagScore(tag, score, source))
        return found

    def embeddings(self, *, backbone: str) -> tuple[list[int], np.ndarray]:
        """Photo ids and their embeddings (float32, one row each) for ``backbone``, current views version only."""
        rows = self.db.execute(
            "select photo_id, embedding, dim from analyses where backbone = ? and view = ?"
            " and embedding is not null order by photo_id",
            [backbone, VIEWS_VERSION],
        ).fetchall()
        if not rows:
            return [], np.zeros((0, 0), dtype=np.float32)
        ids = [r[0] for r in rows]
        matrix = np.stack([np.frombuffer(r[1], dtype=np.float16) for r in rows]).astype(np.float32)
        return ids, matrix

    # -- decisions -------------------------------------------------------------

    def record_decision(
        self,
        photo_id: int,
        tag: str,
        action: Action,
        *,
        origin: str = "cli",
        value: float | None = None,
    ) -> int:
        """Record and commit one decision; returns its id (for undo).

        ``value`` carries a number with the decision (the stars of a ``rate``).
        """
        if action not in ACTIONS:
            raise StoreError(f"unknown decision {action!r}; use one of {', '.join(ACTIONS)}")
        tag = normalise_tag(tag)
        if not tag:
            raise StoreError("a tag cannot be empty")
        with self.db.atomic():
            return (
                self.db["decisions"]
                .insert(
                    {
                        "photo_id": photo_id,
                        "tag": tag,
                        "action": action,
                        "origin": origin,
                        "decided_at": _now(),
                        "value": value,
                    }
                )
                .last_pk
            )

    def record_decisions(
        self, photo_ids: Iterable[int], tag: str, action: Action, *, origin: str
    ) -> list[int]:
        """The same decision for many photos, all or none."""
        with self.db.atomic():
            return [self.record_decision(pid, tag, action, origin=origin) for pid in photo_ids]

    def undo_decision(self, decision_id: int) -> None:
        with self.db.atomic():
            self.db.execute("delete from decisions where id = ?", [decision_id])

    def tag_states(self, photo_id: int) -> dict[str, Action]:
        """Each tag's latest decision for a photo."""
        rows = self.db.execute(
            "select tag, action from decisions where photo_id = ? order by id", [photo_id]
        ).fetchall()
        return {tag: action for tag, action in rows}

    def confirmed_tags(self, photo_id: int) -> list[str]:
        """Tags the user accepted or added, and has not since rejected or removed."""
        return sorted(t for t, a in self.tag_states(photo_id).items() if a in ("accept", "add"))

    def all_tag_states(self) -> dict[int, dict[str, Action]]:
        """Latest decision per (photo, tag), for every photo with decisions."""
        states: dict[int, dict[str, Action]] = {}
        for photo_id, tag, action in self.db.execute(
            "select photo_id, tag, action from decisions order by id"
        ):
            states.setdefault(photo_id, {})[tag] = action
        return states

    def user_tags(self) -> list[tuple[str, int]]:
        """Tags the user confirmed anywhere, with how many photos carry each."""
        counts: dict[str, int] = {}
        for tags in self.all_tag_states().values():
            for tag, action in tags.items():
                if action in ("accept", "add"):
                    counts[tag] = counts.get(tag, 0) + 1
        return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))

    # -- files PhotoTagger rewrote ------------------------------------------------------

    def chat_settings(self) -> dict[int, dict[str, object]]:
        """Each Telegram chat's own settings, as the bot stored them, by chat id."""
        rows = self.db.execute("select chat_id, settings from chat_settings").fetchall()
        return {int(chat): json.loads(values) for chat, values in rows}

    def save_chat_settings(self, chat_id: int, values: dict[str, object]) -> None:
        """Store one chat's settings (replacing what it had), committed at once."""
        with self.db.atomic():
            self.db["chat_settings"].upsert(
                {"chat_id": chat_id, "settings": json.dumps(values), "updated": _now()},
                pk="chat_id",
            )

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
        with self.db.atomic():
            for table in ("analyses", "photo_quality", "face_scans", "photos"):
                key = "id" if table == "photos" else "photo_id"
                self.db.execute(
                    f"update {table} set size = ?, mtime = ? where {key} = ? and size = ? and mtime = ?",
                    [*after, photo_id, *before],
                )


@migrations()
def m006_learned_versions(db: Database) -> None:
    # Each learning run is a version the user keeps or discards (core.learning.versions):
    # its status, per-tag verdicts, learner settings and the decisions it learned from.
    # Heads from before have no verdicts, so they are retired rather than applied.
    db["heads"].add_column("status", str)
    db["heads"].add_column("learner", str)
    db["heads"].add_column("gates", str)
    db["heads"].add_column("evidence", bytes)
    db.execute("update heads set status = 'retired'")


@migrations()
def m008_chat_settings(db: Database) -> None:
    # The bot's per-chat /settings (tag count, threshold, hashtag style) as JSON, so a
    # new setting needs no migration; they outlive a restart of the bot.
    db["chat_settings"].create(
        {"chat_id": int, "settings": str, "updated": str}, pk="chat_id", if_not_exists=True
    )


@migrations()
def m009_people(db: Database) -> None:
    # People: each face's embedding (float32 bytes) and encoder version, the person it
    # belongs to and how it came there (``source``: confirmed by the user, suggested for a
    # named person, or grouped among the unnamed) with a confidence. ``persons`` holds
    # the groups, named or not. A rejection says a face is not a person; no later run
    # undoes it.
    db["faces"].add_column("embedding", bytes)
    db["faces"].add_column("encoder", str)
    db["faces"].add_column("person_id", int)
    db["faces"].add_column("source", str)
    db["faces"].add_column("confidence", float)
    db["faces"].create_index(["person_id"])
    db["face_scans"].add_column("encoder", str)
    db["persons"].create({"id": int, "name": str, "created_at": str}, pk="id", if_not_exists=True)
    db["persons"].create_index(["name"], unique=True, if_not_exists=True)
    db["face_rejections"].create(
        {"face_id": int, "person_id": int, "rejected_at": str},
        pk=("face_id", "person_id"),
        if_not_exists=True,
    )
    db["face_rejections"].create_index(["person_id"], if_not_exists=True)
