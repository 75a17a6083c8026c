"""The store's vocabularies: one enum per concept, stored as the strings they always were.

Each is a :class:`~enum.StrEnum`, so a member compares equal to its stored string and
databases written before the enums read back unchanged.
"""

from __future__ import annotations

from enum import StrEnum


class Decision(StrEnum):
    """What a person did to one tag of one photo (``decisions.action``)."""

    ACCEPT = "accept"
    REJECT = "reject"
    ADD = "add"
    REMOVE = "remove"

    @property
    def confirms(self) -> bool:
        """Whether the tag stands on the photo after this decision."""
        return self in (Decision.ACCEPT, Decision.ADD)


class TagState(StrEnum):
    """Where one tag of one photo stands as a person sees it (suggestions merged with decisions)."""

    SUGGESTED = "suggested"
    ACCEPTED = "accepted"
    ADDED = "added"
    REJECTED = "rejected"

    @property
    def confirmed(self) -> bool:
        return self in (TagState.ACCEPTED, TagState.ADDED)

    @classmethod
    def after(cls, decision: Decision) -> TagState | None:
        """The state a decision leaves a tag in; None for a removed tag (it is gone)."""
        return _STATE_AFTER.get(decision)


_STATE_AFTER = {
    Decision.ACCEPT: TagState.ACCEPTED,
    Decision.ADD: TagState.ADDED,
    Decision.REJECT: TagState.REJECTED,
}


class PhotoStatus(StrEnum):
    """What tagging made of a photo (``photos.status``)."""

    NEW = "new"
    TAGGED = "tagged"
    FAILED = "failed"


class PhotoState(StrEnum):
    """Where a photo stands in review (its status and its tags' states together)."""

    UNTAGGED = "untagged"
    SUGGESTED = "suggested"
    REVIEWED = "reviewed"
    FAILED = "failed"


class Mark(StrEnum):
    """A pick, a "not this one", or a star rating (``ratings.action``)."""

    PICK = "pick"
    UNPICK = "unpick"
    RATE = "rate"
