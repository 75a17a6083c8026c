"""PhotoTagger without a window: the engine, the store, learning, curation, people, export, the CLI.

Nothing here imports Qt or Telegram; torch and timm are imported lazily, only
where a model is built, exported, run on a GPU or trained.
"""

from __future__ import annotations

__version__ = "0.1.0"
