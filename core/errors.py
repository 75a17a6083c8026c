"""The engine's exceptions: each carries one sentence a person can act on."""

from __future__ import annotations


class PhotoTaggerError(Exception):
    """Base class for errors the command line and the GUI show as one line."""


class DecodeError(PhotoTaggerError):
    """A photo's bytes could not be turned into pixels."""


class FetchError(PhotoTaggerError):
    """An image URL could not be fetched."""


class BackboneUnavailable(PhotoTaggerError):
    """A backbone's weights are not on this machine and cannot be fetched now."""


class StoreError(PhotoTaggerError):
    """The database cannot be opened or written."""
