"""Proves the fake Bot API server speaks well enough for the real python-telegram-bot client.

The bot's own tests rely on this fake, so these checks drive it with an unmodified PTB
``Application`` and ``Bot``: if PTB can poll, download, reply and map errors through it, the
fake is faithful enough for testing bot behaviour without the network.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dtm
import hashlib
import io
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from PIL import Image
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, InvalidToken, RetryAfter
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.bot.fake_telegram import FakeBotApi, UploadedFile

TOKEN = "123:ABC"
CHAT = USER = 4242


@pytest.fixture
def api() -> Iterator[FakeBotApi]:
    with FakeBotApi(token=TOKEN) as server:
        yield server


@pytest.fixture(scope="module")
def jpeg() -> bytes:
    """A small but real JPEG, so the fake's Pillow-derived sizes and thumbnails are exercised."""
    image = Image.linear_gradient("L").resize((640, 480)).convert("RGB")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def build_app(api: FakeBotApi, errors: list[BaseException]) -> Application:
    """A real Application aimed at the fake; handler errors are collected, not just logged."""
    app = ApplicationBuilder().token(TOKEN).base_url(api.base_url)
    app = app.base_file_url(api.base_file_url).build()

    async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        errors.append(context.error or RuntimeError("unknown handler error"))

    app.add_error_handler(on_error)
    return app


@contextlib.contextmanager
def polling(app: Application) -> Iterator[None]:
    """Runs ``app.run_polling`` in a thread, as the bot will, and stops it gracefully."""
    loop = asyncio.new_event_loop()
    failures: list[BaseException] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            app.run_polling(stop_signals=None)
        except BaseException as exc:
            failures.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        deadline = time.monotonic() + 5
        while thread.is_alive() and not app.running and time.monotonic() < deadline:
            time.sleep(0.01)
        if thread.is_alive():
            loop.call_soon_threadsafe(app.stop_running)
        thread.join(timeout=5)
        assert not thread.is_alive(), "run_polling did not stop"
        assert not failures, failures


def with_bot(api: FakeBotApi, body: Callable[[Bot], Awaitable[Any]]) -> Any:
    """Runs ``body`` against an initialized Bot, for direct calls outside an Application."""

    async def main() -> Any:
        bot = Bot(TOKEN, base_url=api.base_url, base_file_url=api.base_file_url)
        async with bot:
            return await body(bot)

    return asyncio.run(main())


def test_photo_is_downloaded_exactly_and_answered(api: FakeBotApi, jpeg: bytes) -> None:
    errors: list[BaseException] = []
    app = build_app(api, errors)
    received: list[tuple[bytes, list[tuple[int, int]], str | None, str | None]] = []

    async def on_photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message is not None
        data = bytes(await (await message.photo[-1].get_file()).download_as_bytearray())
        sizes = [(p.width, p.height) for p in message.photo]
        received.append((data, sizes, message.caption, message.media_group_id))
        await message.reply_text(f"{len(data)} {hashlib.sha256(data).hexdigest()}")

    app.add_handler(MessageHandler(filters.PHOTO, on_photo))
    with polling(app):
        api.add_photo_message(CHAT, USER, jpeg, caption="beach", media_group_id="album1")
        [reply] = api.wait_for("sendMessage")

    assert not errors
    data, sizes, caption, group = received[0]
    assert data == jpeg
    assert sizes[-1] == (640, 480) and sizes == sorted(sizes) and len(sizes) >= 3
    assert (caption, group) == ("beach", "album1")
    assert reply["chat_id"] == CHAT
    assert reply["text"] == f"{len(jpeg)} {hashlib.sha256(jpeg).hexdigest()}"
    assert len(api.calls("getFile")) == 1
    assert not api.calls("getUpdates"), "polling must not be recorded"


def test_start_command_reaches_command_handler(api: FakeBotApi) -> None:
    errors: list[BaseException] = []
    app = build_app(api, errors)

    async def on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Tag", callback_data="tag")]])
        await update.effective_message.reply_text("welcome", reply_markup=keyboard)

    async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.effective_message.reply_text(f"echo: {update.effective_message.text}")

    app.add_handler(CommandHandler("start", on_start))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, on_text))
    with polling(app):
        api.add_text_message(CHAT, USER, "/start")
        api.wait_for("sendMessage")
        api.add_text_message(CHAT, USER, "hello")
        replies = api.wait_for("sendMessage", count=2)

    assert not errors
    assert [r["text"] for r in replies] == ["welcome", "echo: hello"]
    assert replies[0]["reply_markup"] == {
        "inline_keyboard": [[{"text": "Tag", "callback_data": "tag"}]]
    }


def test_callback_query_reaches_callback_handler(api: FakeBotApi) -> None:
    errors: list[BaseException] = []
    app = build_app(api, errors)
    sent_ids: list[int] = []
    seen_texts: list[str | None] = []

    async def on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Cat", callback_data="tag:cat")]])
        sent = await update.effective_message.reply_text("pick a tag", reply_markup=keyboard)
        sent_ids.append(sent.message_id)

    async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None and query.message is not None
        seen_texts.append(query.message.text)
        await query.answer("saved")
        await query.edit_message_reply_markup(None)
        await query.edit_message_text(f"tagged {query.data}")
        try:  # Telegram refuses an edit that changes nothing; bots must expect it
            await query.edit_message_text(f"tagged {query.data}")
        except BadRequest as exc:
            seen_texts.append(exc.message)

    app.add_handler(CommandHandler("start", on_start))
    app.add_handler(CallbackQueryHandler(on_button, pattern=r"^tag:"))
    with polling(app):
        api.add_text_message(CHAT, USER, "/start")
        api.wait_for("sendMessage")
        [keyboard_message] = [m for m in api.messages(CHAT) if m["from"]["is_bot"]]
        message_id = keyboard_message["message_id"]
        query_id = api.add_callback_query(CHAT, USER, message_id, "tag:cat")
        [answer] = api.wait_for("answerCallbackQuery")
        edit = api.wait_for("editMessageText", count=2)[0]
        [markup] = api.wait_for("editMessageReplyMarkup")

    assert not errors
    assert sent_ids == [message_id]
    assert seen_texts[0] == "pick a tag" and seen_texts[1].startswith("Message is not modified")
    assert answer == {"callback_query_id": query_id, "text": "saved"}
    assert (
        "reply_markup" not in markup
        and edit["message_id"] == message_id
        and edit["text"] == "tagged tag:cat"
    )


def test_fail_next_surfaces_as_retry_after(
    api: FakeBotApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # PTB 22's opt-in; int values are deprecated

    async def body(bot: Bot) -> None:
        api.fail_next("sendMessage", retry_after=3)
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(CHAT, "first")
        assert caught.value.retry_after == dtm.timedelta(seconds=3)
        second = await bot.send_message(CHAT, "second")
        third = await bot.send_message(CHAT, "third")
        assert second.text == "second" and third.message_id > second.message_id

    with_bot(api, body)
    assert [p["text"] for p in api.calls("sendMessage")] == ["first", "second", "third"]


def test_wrong_token_is_rejected(api: FakeBotApi) -> None:
    async def main() -> None:
        bot = Bot("999:WRONG", base_url=api.base_url, base_file_url=api.base_file_url)
        try:
            with pytest.raises(InvalidToken, match="rejected"):
                await bot.initialize()
            with pytest.raises(InvalidToken, match="Unauthorized"):
                await bot.get_me()
        finally:
            await bot.shutdown()

    asyncio.run(main())
    assert api.sent == []


def test_documents_uploads_and_too_big_files(jpeg: bytes) -> None:
    with FakeBotApi(token=TOKEN, max_download_size=64 * 1024) as api:
        api.add_document_message(
            CHAT, USER, b"x" * 600, file_name="small.heic", mime_type="image/heic"
        )
        api.add_document_message(
            CHAT, USER, b"y" * (64 * 1024 + 1), file_name="big.jpg", mime_type="image/jpeg"
        )

        async def body(bot: Bot) -> None:
            small, big = [u.message.document for u in await bot.get_updates(timeout=1)]
            assert (small.file_name, small.mime_type, small.file_size) == (
                "small.heic",
                "image/heic",
                600,
            )
            assert await (await bot.get_file(small.file_id)).download_as_bytearray() == b"x" * 600
            with pytest.raises(BadRequest, match="File is too big"):
                await bot.get_file(big.file_id)
            sent = await bot.send_document(CHAT, b"a,b\n1,2\n", filename="tags.csv")
            assert sent.document is not None and sent.document.file_name == "tags.csv"
            photo = await bot.send_photo(CHAT, jpeg, caption="tagged")
            assert photo.photo[-1].width == 640 and photo.caption == "tagged"
            copy = await (await bot.get_file(photo.photo[-1].file_id)).download_as_bytearray()
            assert copy == jpeg

        with_bot(api, body)
        [upload] = api.calls("sendDocument")
        assert isinstance(upload["document"], UploadedFile)
        assert upload["document"].data == b"a,b\n1,2\n" and upload["chat_id"] == CHAT


def _post(url: str, payload: dict[str, Any], timeout: float = 10) -> tuple[int, dict[str, Any]]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


def test_long_poll_wakes_on_new_update_and_confirms_offsets(api: FakeBotApi) -> None:
    url = f"{api.base_url}{TOKEN}/getUpdates"
    threading.Timer(0.3, api.add_text_message, (CHAT, USER, "late")).start()
    started = time.monotonic()
    status, body = _post(url, {"timeout": 5})
    assert status == 200 and time.monotonic() - started < 2
    [update] = body["result"]
    assert update["message"]["text"] == "late"

    assert _post(url, {"offset": update["update_id"]})[1]["result"] == [update]
    assert _post(url, {"offset": update["update_id"] + 1})[1]["result"] == []
    status, body = _post(f"{api.base_url}{TOKEN}/noSuchMethod", {})
    assert (status, body["error_code"], body["ok"]) == (404, 404, False)


def test_stop_does_not_wait_for_a_parked_long_poll() -> None:
    api = FakeBotApi(token=TOKEN).start()
    answers: list[tuple[int, dict[str, Any]]] = []
    url = f"{api.base_url}{TOKEN}/getUpdates"
    poll = threading.Thread(target=lambda: answers.append(_post(url, {"timeout": 30})))
    poll.start()
    time.sleep(0.2)
    started = time.monotonic()
    api.stop()
    poll.join(timeout=2)
    assert time.monotonic() - started < 1 and not poll.is_alive()
    assert answers == [(200, {"ok": True, "result": []})], "a parked poll gets a clean answer"
