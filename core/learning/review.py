"""A photo's tags as a person sees them: suggestions merged with their decisions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from core.engine.vocabulary import TagScore, best_scores, rank
from core.store import Decision, PhotoState, PhotoStatus, Store, TagState

PHOTO_STATES: tuple[PhotoState, ...] = tuple(PhotoState)


@dataclass(frozen=True)
class PhotoTag:
    """One tag on one photo, with where it came from and what the user said.

    ``low_confidence`` marks a suggestion shown only because nothing on the
    photo cleared its threshold (the app greys it, exports mark it).
    """

    tag: str
    score: float | None
    source: str
    state: TagState
    low_confidence: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "state", TagState(self.state))

    @property
    def confirmed(self) -> bool:
        return self.state.confirmed


def photo_tags(
    store: Store,
    photo_id: int,
    *,
    threshold: float,
    top_k: int,
    backbone: str | None = None,
    include_rejected: bool = False,
) -> list[PhotoTag]:
    """Confirmed tags first, then suggestions over ``threshold`` (at most ``top_k``).

    Rejected and removed tags never come back as suggestions; with
    ``include_rejected`` they are listed last, for the review panel.
    """
    return merge_tags(
        store.suggestions(photo_id, backbone=backbone),
        store.tag_states(photo_id),
        threshold=threshold,
        top_k=top_k,
        include_rejected=include_rejected,
    )


def photo_tags_many(
    store: Store,
    photo_ids: list[int],
    *,
    threshold: float,
    top_k: int,
    backbone: str | None = None,
    include_rejected: bool = False,
    states: Mapping[int, Mapping[str, Decision]] | None = None,
) -> dict[int, list[PhotoTag]]:
    """:func:`photo_tags` for many photos at once, in a few queries instead of two per photo.

    ``states`` are every photo's tag states (:meth:`Store.all_tag_states`) where
    the caller has read them already, as an export in batches does once.
    """
    suggestions = store.suggestions_by_photo(photo_ids, backbone=backbone)
    if states is None:
        states = store.all_tag_states()
    return {
        pid: merge_tags(
            suggestions[pid],
            states.get(pid, {}),
            threshold=threshold,
            top_k=top_k,
            include_rejected=include_rejected,
        )
        for pid in photo_ids
    }


def merge_tags(
    suggestions: list[TagScore],
    states: Mapping[str, Decision],
    *,
    threshold: float,
    top_k: int,
    include_rejected: bool = False,
) -> list[PhotoTag]:
    """Confirmed tags, then the ranked suggestions nobody decided on, then the rejected.

    When no suggestion clears its threshold, the best ones are listed marked low
    confidence (see :func:`core.engine.vocabulary.rank`), confirmed tags or not: a
    person can still accept a guess after accepting the first.
    """
    best = best_scores(suggestions)
    confirmed, rejected = [], []
    for tag, action in states.items():
        scored = best.get(tag)
        score = scored.score if scored else None
        source = scored.source if scored else "user"
        if action == Decision.ACCEPT:
            confirmed.append(PhotoTag(tag, score, source, TagState.ACCEPTED))
        elif action == Decision.ADD:
            confirmed.append(PhotoTag(tag, score, "user", TagState.ADDED))
        elif action == Decision.REJECT:
            rejected.append(PhotoTag(tag, score, source, TagState.REJECTED))
    decided = set(states)
    open_ = [
        PhotoTag(s.tag, s.score, s.source, TagState.SUGGESTED, s.low_confidence)
        for s in rank(
            [s for s in suggestions if s.tag not in decided],
            threshold=threshold,
            top_k=top_k,
            present=[t.tag for t in confirmed],
        )
    ]
    confirmed.sort(key=lambda t: (-(t.score or 1.0), t.tag))
    return confirmed + open_ + (rejected if include_rejected else [])


def open_suggestions(tags: list[PhotoTag] | tuple[PhotoTag, ...]) -> list[PhotoTag]:
    """Suggestions still waiting for a decision (low-confidence guesses are not suggestions)."""
    return [t for t in tags if t.state == TagState.SUGGESTED and not t.low_confidence]


def photo_state(
    status: PhotoStatus | str, tags: list[PhotoTag] | tuple[PhotoTag, ...]
) -> PhotoState:
    """Where a photo stands in review.

    ``failed``: the file could not be read. ``suggested``: a suggestion is still
    open, or the backbone had only guesses and nobody has looked. ``reviewed``:
    no suggestion is left open and someone decided something (one accepted tag
    among open ones is not a review). ``untagged``: neither tagged nor decided.

    Args:
        status: The photo's status in the store (``new``, ``tagged``, ``failed``).
        tags: Its tags as :func:`merge_tags` lists them.
    """
    if status == PhotoStatus.FAILED:
        return PhotoState.FAILED
    if open_suggestions(tags):
        return PhotoState.SUGGESTED
    if any(t.state != TagState.SUGGESTED for t in tags):
        return PhotoState.REVIEWED
    return PhotoState.SUGGESTED if status == PhotoStatus.TAGGED else PhotoState.UNTAGGED
