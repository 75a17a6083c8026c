"""The bot end to end: the real PTB client, through BotRunner, against the fake Bot API.

Replies are checked against what the engine itself says for the same bytes, so a
bot that decodes, ranks or renders differently from the desktop app fails here.
"""

from __future__ import annotations

import io
import time

import pytest
from PIL import Image

from bot.handlers import (
    ALBUM_NOTE,
    HELP,
    NO_TAGS,
    NOT_ALLOWED,
    NOT_IMAGE,
    OTHER,
    SLOW_DOWN,
    TOO_BIG,
    UNREADABLE,
)
from core.engine.imaging import decode_photo
from core.engine.vocabulary import hashtag, rank
from core.store import Store
from tests.bot.conftest import CHAT, STRANGER, USER
from tests.bot.fake_telegram import FakeBotApi
from tests.conftest import shared
from tests.store_sql import sql


def photo_bytes(name: str) -> bytes:
    return shared("imagenet-sample", name).read_bytes()


def expected_hashtags(tagger, data: bytes, *, threshold=0.2, top_k=8, style="joined") -> str:
    """What the engine says for these bytes, rendered the way the bot must render it."""
    decoded = decode_photo(data, min_short_side=tagger.decode_short_side)
    _, suggestions = tagger.tag_image(decoded.image)
    tags = rank(suggestions, threshold=threshold, top_k=top_k)
    return " ".join(hashtag(t.tag, style=style) for t in tags) or NO_TAGS


def replies(api: FakeBotApi, count: int = 1) -> list[dict]:
    return api.wait_for("sendMessage", count=count, timeout=30, predicate=lambda p: "text" in p)


def eventually(check, timeout: float = 10) -> bool:
    """Counters are bumped just after the reply is sent; give the bot thread a moment."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def decisions(runner) -> list[tuple]:
    with Store(runner._database) as store:
        return sql(
            store,
            "select p.uri, d.tag, d.action, d.origin from decisions d"
            " join photos p on p.id = d.photo_id order by d.id",
        ).fetchall()


def test_photo_gets_the_engines_hashtags_and_vote_buttons(api, make_runner, tagger) -> None:
    make_runner()
    data = photo_bytes("n02099601_golden_retriever.JPEG")
    message_id = api.add_photo_message(CHAT, USER, data)
    [reply] = replies(api)

    assert reply["text"] == expected_hashtags(tagger, data)
    assert "#goldenretriever" in reply["text"].split()
    assert reply["reply_parameters"]["message_id"] == message_id
    buttons = [b for row in reply["reply_markup"]["inline_keyboard"] for b in row]
    assert len(buttons) == 2 * len(reply["text"].split())
    assert all(len(b["callback_data"].encode()) <= 64 for b in buttons)
    methods = [m.lower() for m, _ in api.sent]
    assert methods.index("sendchataction") < methods.index("sendmessage"), "typing comes first"
    assert api.calls("sendChatAction")[0]["action"] == "typing"


def test_image_document_gets_its_reply_and_an_album_one_reply(api, make_runner, tagger) -> None:
    runner = make_runner()
    out = io.BytesIO()
    Image.open(io.BytesIO(photo_bytes("n07873807_pizza.JPEG"))).save(out, "PNG")
    png = out.getvalue()
    album = [photo_bytes(n) for n in ("n02123045_tabby.JPEG", "n04285008_sports_car.JPEG")]

    doc_id = api.add_document_message(CHAT, USER, png, file_name="pizza.png", mime_type="image/png")
    album_ids = [api.add_photo_message(CHAT, USER, d, media_group_id="alb1") for d in album]
    sent = replies(api, count=2)

    by_message = {r["reply_parameters"]["message_id"]: r["text"] for r in sent}
    assert by_message[doc_id] == expected_hashtags(tagger, png)
    assert "#pizza" in by_message[doc_id].split()
    lines = by_message[album_ids[0]].splitlines()
    for number, data in enumerate(album, start=1):
        assert lines[number - 1] == f"{number}. {expected_hashtags(tagger, data)}"
    assert lines[-1] == ALBUM_NOTE
    assert eventually(lambda: runner.counts.answered == 3)
    with Store(runner._database) as store:
        uris = [p.uri for p in store.photos()]
    assert len(uris) == 3 and all(u.startswith("telegram:uniq") for u in uris)


def test_pdf_big_file_and_broken_jpeg_get_polite_answers(api, make_runner) -> None:
    runner = make_runner()
    jpeg = photo_bytes("n07873807_pizza.JPEG")
    api.add_document_message(
        CHAT, USER, b"%PDF-1.4\n" + b"0" * 500, file_name="a.pdf", mime_type="application/pdf"
    )
    api.add_document_message(
        CHAT, USER, b"\xff\xd8" + b"0" * (25 * 2**20), file_name="big.jpg", mime_type="image/jpeg"
    )
    api.add_document_message(
        CHAT, USER, jpeg[:3000], file_name="broken.jpg", mime_type="image/jpeg"
    )
    texts = sorted(r["text"] for r in replies(api, count=3))

    assert NOT_IMAGE in texts
    assert TOO_BIG.format(limit=20) in texts
    assert UNREADABLE in texts
    assert not any("truncated" in t or "))" in t or "Error" in t for t in texts), "plain words"
    assert len(api.calls("getFile")) == 1, "neither the PDF nor the 25 MB file is downloaded"
    assert eventually(lambda: runner.counts.refused == 3) and runner.counts.answered == 0


def test_stranger_gets_one_sentence_and_nothing_is_processed(api, make_runner) -> None:
    runner = make_runner()
    data = photo_bytes("n02123045_tabby.JPEG")
    api.add_photo_message(STRANGER, STRANGER, data)
    api.add_text_message(STRANGER, STRANGER, "/help")
    api.add_photo_message(CHAT, USER, data)  # an allowed user, so we know the others were seen
    sent = replies(api, count=2)

    to_stranger = [r["text"] for r in sent if r["chat_id"] == STRANGER]
    assert to_stranger == [NOT_ALLOWED]
    assert len(api.calls("getFile")) == 1 and api.calls("getFile")[0]["file_id"].startswith("fake")
    assert eventually(lambda: runner.counts.answered == 1) and runner.counts.refused == 2


def test_open_to_all_answers_strangers(api, make_runner) -> None:
    make_runner(bot_open_to_all=True)
    api.add_photo_message(STRANGER, STRANGER, photo_bytes("n02123045_tabby.JPEG"))
    [reply] = replies(api)
    assert reply["chat_id"] == STRANGER and reply["text"].startswith("#")


def test_commands_never_count_against_the_photo_rate(api, make_runner) -> None:
    runner = make_runner(flood_burst=1, flood_per_minute=1.0)
    for _ in range(6):
        api.add_text_message(CHAT, USER, "/help")
    api.add_text_message(CHAT, USER, "hello")
    api.add_photo_message(CHAT, USER, photo_bytes("n02123045_tabby.JPEG"))
    sent = replies(api, count=8)

    texts = [r["text"] for r in sent]
    assert texts.count(HELP) == 6 and texts.count(OTHER) == 1
    assert sum(t.startswith("#") for t in texts) == 1, "the photo is answered at once"
    assert not any(t.startswith(SLOW_DOWN[:20]) for t in texts)
    assert runner.counts.limited == 0


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")  # PTB's own
def test_429_is_retried_after_the_wait_telegram_asks(api, make_runner) -> None:
    runner = make_runner()
    api.fail_next("sendMessage", retry_after=1)
    api.add_photo_message(CHAT, USER, photo_bytes("n02123045_tabby.JPEG"))
    first, second = api.wait_for("sendMessage", count=2, timeout=30)

    assert first["text"] == second["text"] and second["text"].startswith("#")
    assert eventually(lambda: runner.counts.answered == 1) and runner.counts.errors == 0


def test_vote_buttons_become_decisions_in_the_store(api, make_runner) -> None:
    runner = make_runner()
    api.add_photo_message(CHAT, USER, photo_bytes("n02099601_golden_retriever.JPEG"))
    [reply] = replies(api)
    [bot_message] = [m for m in api.messages(CHAT) if m["from"]["is_bot"]]
    rows = reply["reply_markup"]["inline_keyboard"]
    reject = rows[0][1]["callback_data"]
    accept = rows[1][0]["callback_data"]
    rejected_tag, accepted_tag = reject.split(":", 3)[3], accept.split(":", 3)[3]

    api.add_callback_query(CHAT, USER, bot_message["message_id"], reject)
    api.wait_for("editMessageText", timeout=30)
    api.add_callback_query(CHAT, USER, bot_message["message_id"], accept)
    edits = api.wait_for("editMessageText", count=2, timeout=30)
    api.add_callback_query(CHAT, USER, bot_message["message_id"], "v:a:999:forged")
    answers = api.wait_for("answerCallbackQuery", count=3, timeout=30)

    uri = "telegram:" + _unique_id_of_largest_photo(api)
    assert decisions(runner) == [
        (uri, rejected_tag, "reject", "bot"),
        (uri, accepted_tag, "accept", "bot"),
    ]
    assert hashtag(rejected_tag) not in edits[-1]["text"].split()
    assert hashtag(accepted_tag) in edits[-1]["text"].split()
    labels = [b["text"] for row in edits[-1]["reply_markup"]["inline_keyboard"] for b in row]
    assert f"✅ {hashtag(accepted_tag)}" in labels and "❌" in labels
    assert answers[-1]["text"] == "That button is no longer valid."
    assert eventually(lambda: runner.counts.votes == 2)


def _unique_id_of_largest_photo(api: FakeBotApi) -> str:
    [user_message] = [m for m in api.messages(CHAT) if not m["from"]["is_bot"]]
    return user_message["photo"][-1]["file_unique_id"]


def test_settings_buttons_change_this_chats_replies(api, make_runner, tagger) -> None:
    make_runner()
    api.add_text_message(CHAT, USER, "/settings")
    [menu] = replies(api)
    data = [b["callback_data"] for row in menu["reply_markup"]["inline_keyboard"] for b in row]
    assert "s:k:3" in data and "s:h:camel" in data
    menu_id = next(m for m in api.messages(CHAT) if m["from"]["is_bot"])["message_id"]
    api.add_callback_query(CHAT, USER, menu_id, "s:k:3")
    api.wait_for("editMessageText", timeout=30)
    api.add_callback_query(CHAT, USER, menu_id, "s:h:camel")
    api.wait_for("editMessageText", count=2, timeout=30)

    photo = photo_bytes("n02099601_golden_retriever.JPEG")
    api.add_photo_message(CHAT, USER, photo)
    reply = replies(api, count=2)[-1]
    assert reply["text"] == expected_hashtags(tagger, photo, top_k=3, style="camel")
    words = reply["text"].split()
    assert 2 <= len(words) <= 3 and words[0] == "#Dog" and "#dog" not in words


@pytest.mark.parametrize("command", ["/start", "/help"])
def test_start_and_help_explain_privacy(api, make_runner, command) -> None:
    make_runner()
    api.add_text_message(CHAT, USER, command)
    [reply] = replies(api)
    assert "Send me a photo" in reply["text"] and "Privacy" in reply["text"]


def test_the_reply_says_how_many_people_and_never_who(api, make_runner) -> None:
    make_runner()
    data = shared("faces", "test", "obama_and_biden.jpg").read_bytes()
    api.add_photo_message(CHAT, USER, data)
    [reply] = replies(api)
    hashtags, people = reply["text"].split("\n")
    assert people == "3 people"
    assert "#people" in hashtags.split()
    assert not {"obama", "biden"} & {w.strip("#").lower() for w in reply["text"].split()}
