"""The SQLite store: the only place in PhotoTagger that speaks SQL.

Everything a run, a person or a learner decides is kept here; the rest of the
program asks :class:`Store` for it by method.
"""

from __future__ import annotations

from core.store.database import Action, PhotoResult, PhotoRow, Store

__all__ = ["Action", "PhotoResult", "PhotoRow", "Store"]
