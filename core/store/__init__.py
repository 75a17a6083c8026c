"""The SQLite store: the only place in PhotoTagger that speaks SQL.

Everything a run, a person or a learner decides is kept here; the rest of the
program asks :class:`Store` for it by method. One module per table family:
:mod:`~core.store.photos` (photos, runs, analyses), :mod:`~core.store.tags`
(suggestions, decisions), :mod:`~core.store.faces` and :mod:`~core.store.people`,
:mod:`~core.store.heads` (learned versions), :mod:`~core.store.curation`
(picks, ratings, quality), :mod:`~core.store.chats`; the schema steps are in
:mod:`~core.store.schema`, the vocabularies in :mod:`~core.store.states`.
"""

from __future__ import annotations

from core.store.database import Store
from core.store.people import FaceRow, PeopleError, PeopleRecords, Person, Source
from core.store.photos import PhotoResult, PhotoRow
from core.store.states import Decision, Mark, PhotoState, PhotoStatus, TagState

__all__ = [
    "Decision",
    "FaceRow",
    "Mark",
    "PeopleError",
    "PeopleRecords",
    "Person",
    "PhotoResult",
    "PhotoRow",
    "PhotoState",
    "PhotoStatus",
    "Source",
    "Store",
    "TagState",
]
