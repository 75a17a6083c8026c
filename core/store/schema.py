"""The database's schema: sqlite-utils migrations, applied in order when a store opens.

A step is never edited once released; a change is a new step appended to
:data:`STEPS`. Steps whose table belongs to one family live with that family's
queries (heads, curation, chats) and are listed here in order.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from core.store.chats import create_chat_settings
from core.store.curation import create_quality, move_ratings
from core.store.heads import add_heads_versions, add_heads_view, create_heads


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


def m002_heads(db: Database) -> None:
    create_heads(db)


def m003_curation(db: Database) -> None:
    # Star ratings were decisions with a number until m010_ratings gave them a table.
    db["decisions"].add_column("value", float)
    create_quality(db)


def m004_views(db: Database) -> None:
    # How backbones were shown the photo (core.engine.transforms.VIEWS_VERSION) is kept with
    # each analysis and head: rows of another version are analysed again and such heads
    # set aside. Rows from before have none, so they count as another version.
    db["analyses"].add_column("view", str)
    add_heads_view(db)


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


def m006_learned_versions(db: Database) -> None:
    add_heads_versions(db)


def m008_chat_settings(db: Database) -> None:
    create_chat_settings(db)


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


def m010_ratings(db: Database) -> None:
    move_ratings(db)


STEPS = (
    m001_initial,
    m002_heads,
    m003_curation,
    m004_views,
    m005_faces,
    m006_learned_versions,
    m008_chat_settings,
    m009_people,
    m010_ratings,
)
"""Every schema step in order; a database records each by its function's name."""

STEP_NAMES = frozenset(step.__name__ for step in STEPS)

migrations = Migrations("phototagger")
for _step in STEPS:
    migrations()(_step)
