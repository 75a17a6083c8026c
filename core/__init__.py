"""PhotoTagger's engine: sources, decoding, backbones, tagging, storage and export.

Nothing here imports Qt or Telegram; torch and timm are imported lazily, only
where a model is built, exported, run on a GPU or trained.
"""

from __future__ import annotations

__version__ = "0.1.0"
