"""Faces found in photos (``faces``) and which photo versions were searched (``face_scans``).

Who the faces are (persons, rejections) is :mod:`core.store.people`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import numpy as np

from core.engine.faces import Face, match_boxes
from core.engine.sources import PhotoRef
from core.store.base import StoreBase


class FacesStore(StoreBase):
    """Faces as detection found them."""

    def _save_faces(
        self,
        photo_id: int,
        ref: PhotoRef,
        faces: Iterable[Face],
        *,
        detector: str,
        encoder: str | None,
        now: str,
    ) -> None:
        """Replace a photo's faces with those a run found (inside the caller's transaction)."""
        faces = tuple(faces)
        # A face found again (the same place in the photo) keeps its row, and with it
        # its person and what the user said about it; faces no longer found go.
        old = {
            fid: tuple(json.loads(box))
            for fid, box in self._db.execute(
                "select id, box from faces where photo_id = ?", [photo_id]
            )
        }
        kept = match_boxes([f.box for f in faces], old)
        gone = [fid for fid in old if fid not in kept.values()]
        for fid in gone:
            self._db.execute("delete from face_rejections where face_id = ?", [fid])
            self._db.execute("delete from faces where id = ?", [fid])
        for i, f in enumerate(faces):
            row = {
                "photo_id": photo_id,
                "box": json.dumps(list(f.box)),
                "score": f.score,
                "landmarks": json.dumps([list(p) for p in f.landmarks]),
                "detector": detector,
                "embedding": None
                if f.embedding is None
                else np.asarray(f.embedding, dtype=np.float32).tobytes(),
                "encoder": encoder if f.embedding is not None else None,
            }
            if i in kept:
                self._db["faces"].update(kept[i], row)
            else:
                self._db["faces"].insert(row)
        self._db["face_scans"].upsert(
            {
                "photo_id": photo_id,
                "size": ref.size,
                "mtime": ref.mtime,
                "detector": detector,
                "encoder": encoder,
                "faces": len(faces),
                "scanned_at": now,
            },
            pk="photo_id",
        )

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
            for pid, uri, size, mtime, enc in self._db.execute(
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
        for pid, box, score, landmarks in self._rows_where_in(
            "select photo_id, box, score, landmarks from faces where photo_id in ({ids})"
            " order by id",
            ids,
        ):
            points = tuple(tuple(p) for p in json.loads(landmarks or "[]"))
            found[pid].append(Face(tuple(json.loads(box)), score, points))
        for faces in found.values():
            faces.sort(key=lambda f: -f.area)
        return found

    def face_count(self, photo_id: int, *, min_score: float) -> int | None:
        """How many of a photo's faces are at least ``min_score`` sure; None if never searched."""
        if (
            self._db.execute("select 1 from face_scans where photo_id = ?", [photo_id]).fetchone()
            is None
        ):
            return None
        return self._db.execute(
            "select count(*) from faces where photo_id = ? and score >= ?", [photo_id, min_score]
        ).fetchone()[0]

    def face_counts(self, *, min_score: float) -> dict[int, int]:
        """Per searched photo, how many of its faces are at least ``min_score`` sure."""
        counts = {pid: 0 for (pid,) in self._db.execute("select photo_id from face_scans")}
        for pid, count in self._db.execute(
            "select photo_id, count(*) from faces where score >= ? group by photo_id", [min_score]
        ):
            counts[pid] = count
        return counts
