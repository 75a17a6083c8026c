"""A photo's review state: reviewed only once no suggestion is left open."""

from __future__ import annotations

from core.engine.vocabulary import TagScore
from core.learning.review import merge_tags, open_suggestions, photo_state


def _tags(states: dict[str, str], scores: dict[str, float] | None = None):
    scores = scores if scores is not None else {"dog": 0.9, "grass": 0.6, "ball": 0.4}
    suggestions = [TagScore(tag, score, "imagenet") for tag, score in scores.items()]
    return merge_tags(suggestions, states, threshold=0.3, top_k=5, include_rejected=True)


def test_one_accepted_tag_among_open_suggestions_is_not_a_review():
    tags = _tags({"dog": "accept"})
    assert [t.tag for t in open_suggestions(tags)] == ["grass", "ball"]
    assert photo_state("tagged", tags) == "suggested"


def test_deciding_every_suggestion_makes_the_photo_reviewed():
    tags = _tags({"dog": "accept", "grass": "reject", "ball": "accept"})
    assert open_suggestions(tags) == []
    assert photo_state("tagged", tags) == "reviewed"


def test_a_photo_with_guesses_only_waits_for_a_look_and_an_added_tag_reviews_it():
    guesses = _tags({}, {"dog": 0.1, "cat": 0.05})
    assert all(t.low_confidence for t in guesses)
    assert photo_state("tagged", guesses) == "suggested"
    added = _tags({"Grandma": "add"}, {"dog": 0.1, "cat": 0.05})
    assert photo_state("tagged", added) == "reviewed"


def test_failed_and_untouched_photos():
    assert photo_state("failed", []) == "failed"
    assert photo_state("new", []) == "untagged"
    assert photo_state("new", _tags({"holiday": "add"}, {})) == "reviewed"
