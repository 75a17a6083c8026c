"""The bot's conversation: small async handlers over :class:`~bot.service.PhotoService`.

Every update first passes :func:`gate` (who may use the bot, and how fast), so
nothing below it ever processes a message from someone who is not allowed.
Photos and image documents each get a reply with their hashtags and one row of
👍 / 👎 buttons per tag; a press becomes a decision in the same store the desktop
app learns from. An album (which Telegram delivers as one message per photo) gets
one reply listing each photo's hashtags. Photos beyond a person's rate wait
their turn (:class:`~bot.limits.FloodGate`); none is dropped silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatAction
from telegram.error import BadRequest, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.config import BotConfig, ChatPrefs
from bot.credentials import redact
from bot.limits import FloodGate, RetryAfterLimiter
from bot.service import PhotoService, TaggedPhoto
from core.engine.faces import describe_people
from core.engine.vocabulary import hashtag
from core.errors import DecodeError, PhotoTaggerError
from core.store import Decision, TagState

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".heic", ".heif", ".avif"}
)
CALLBACK_LIMIT = 64
"""Telegram's limit on a button's callback data, in bytes."""
REFUSAL_INTERVAL = 60.0
"""Seconds between two 'not allowed' answers to the same person."""

TOP_K_CHOICES = (3, 5, 8, 12)
THRESHOLD_CHOICES = (0.1, 0.2, 0.3, 0.5)
STYLE_CHOICES = {
    "joined": "#goldenretriever",
    "camel": "#GoldenRetriever",
    "snake": "#golden_retriever",
}

NOT_ALLOWED = "Sorry, this bot is private: its owner has not added you to its users."
SLOW_DOWN = (
    "That is a lot of photos at once: I will answer every one, in order, about one every "
    "{every} from now on. Please send them more slowly next time."
)
STOPPING = (
    "The bot is stopping (its owner is restarting or updating it), so I could not tag "
    "your waiting photos; please send them again in a few minutes."
)
QUEUE_FULL = "I already have too many of your photos waiting; please send this one again later."
TOO_BIG = "That file is over {limit} MB, more than Telegram lets a bot download; please send a smaller one."
NOT_IMAGE = "That file is not an image I can tag; please send a photo (JPEG, PNG, WebP, HEIC...)."
UNREADABLE = (
    "That photo looks damaged or cut off, so I could not read it. "
    "Please send it again, or send it as a file."
)
TELEGRAM_FAILED = (
    "Telegram could not hand me that file just now (a problem on Telegram's side, not "
    "your photo's). Please send it again in a moment."
)
ENGINE_DOWN = (
    "Sorry, the tagger on this bot's computer is not working right now (a problem on the "
    "bot's side, not your photo's). Please try again later."
)
ALBUM_WAIT = 1.0
"""Seconds after an album's last photo arrived before it is answered (Telegram sends them apart)."""
ALBUM_NOTE = "Send a photo on its own to vote 👍 / 👎 on its tags."
COMMANDS = (
    ("start", "What this bot does"),
    ("help", "How to use it, and privacy"),
    ("settings", "Tags per photo, threshold, hashtag style"),
)
OTHER = "Send me a photo and I reply with its hashtags. /help"
NO_TAGS = "No tag is confident enough for this photo. /settings can lower the threshold."
HELP = (
    "Send me a photo, an image as a file, or an album, and I reply with hashtags for it, "
    "ready to copy into a post.\n\n"
    "Tap 👍 or 👎 next to a tag to tell me whether it fits: that teaches the PhotoTagger app "
    "of this bot's owner.\n\n"
    "/settings: how many tags, how confident, and the hashtag style for this chat.\n\n"
    "Privacy: your photos are tagged on the owner's own computer, not by any online service. "
    "The owner's PhotoTagger database keeps each photo's Telegram file id, its tags and "
    "your 👍 / 👎 answers, not the photo itself and not your name."
)


@dataclass
class BotState:
    """What the handlers of one bot run share, kept in ``application.bot_data``.

    Attributes:
        config: The run's configuration.
        service: The engine, off the event loop.
        prefs: Each chat's /settings, as loaded from the store (changes are written back).
        report: Called with an event name ("answered", "refused", "vote", "error").
    """

    config: BotConfig
    service: PhotoService
    prefs: dict[int, ChatPrefs]
    report: Callable[[str], None] = lambda event: None
    flood: FloodGate = field(init=False)
    refused_at: dict[int, float] = field(default_factory=dict)
    albums: dict[str, list[Message]] = field(default_factory=dict)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    told_stopping: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.flood = FloodGate(
            burst=self.config.flood_burst, per_minute=self.config.flood_per_minute
        )

    def prefs_for(self, chat_id: int) -> ChatPrefs:
        return self.prefs.get(chat_id, self.config.defaults)


def state_of(context: ContextTypes.DEFAULT_TYPE) -> BotState:
    return context.application.bot_data["phototagger"]


# -- building the application ---------------------------------------------------------------


def build_application(state: BotState) -> Application:
    """A fresh Application for one run, aimed at the configured Bot API server."""
    config = state.config
    app = (
        ApplicationBuilder()
        .token(config.token.reveal())
        .base_url(config.api_url)
        .base_file_url(config.file_url)
        .concurrent_updates(32)  # photos of different chats are tagged side by side
        .rate_limiter(RetryAfterLimiter())
        .read_timeout(30)  # a 20 MB download on a slow line
        .get_updates_read_timeout(config.poll_timeout + 10)
        .build()
    )
    app.bot_data["phototagger"] = state
    app.add_handler(TypeHandler(Update, gate), group=-1)
    app.add_handler(CommandHandler(["start", "help"], on_help))
    app.add_handler(CommandHandler("settings", on_settings))
    # Photos may wait their turn: block=False lets them wait without holding a slot.
    app.add_handler(MessageHandler(filters.PHOTO, on_photo, block=False))
    app.add_handler(MessageHandler(filters.Document.ALL, on_document, block=False))
    app.add_handler(CallbackQueryHandler(on_vote, pattern=r"^v:"))
    app.add_handler(CallbackQueryHandler(on_settings_button, pattern=r"^s:"))
    app.add_handler(MessageHandler(filters.ALL & ~filters.COMMAND, on_other))
    app.add_error_handler(on_error)
    return app


async def set_command_menu(app: Application) -> bool:
    """Fill Telegram's command menu; a failure is logged, never fatal.

    Returns:
        Whether Telegram took the menu.
    """
    try:
        await app.bot.set_my_commands(list(COMMANDS))
    except TelegramError as exc:  # a menu is a nicety; the bot works without it
        log.warning("could not set the command menu: %s", redact(str(exc)))
        return False
    return True


# -- the gate ------------------------------------------------------------------------------------


async def gate(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Let through only allowed users; everything else stops here (the pace is per photo)."""
    if not isinstance(update, Update):
        raise ApplicationHandlerStop
    state = state_of(context)
    user = update.effective_user
    if user is None or not state.config.allows(user.id):
        state.report("refused")
        await _refuse(update, state, user.id if user else 0)
        raise ApplicationHandlerStop


async def wait_for_turn(message: Message, state: BotState) -> bool:
    """Book the photo a turn with the flood gate and wait for it.

    Returns:
        False when the person's queue is full, or the bot stops before the turn
        came (they were told so, once).
    """
    user_id = message.from_user.id if message.from_user else message.chat_id
    turn = state.flood.reserve(user_id)
    if turn.refused:
        state.report("limited")
        await message.reply_text(QUEUE_FULL, do_quote=True)
        return False
    if turn.wait > 0:
        state.report("limited")
        if turn.warn:
            every = 60.0 / max(state.config.flood_per_minute, 1.0)
            await message.reply_text(SLOW_DOWN.format(every=_duration(every)), do_quote=True)
        # A stop must not wait for the queue: Application.stop waits for every handler.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(state.stopping.wait(), timeout=turn.wait)
        if state.stopping.is_set():
            if user_id not in state.told_stopping:
                state.told_stopping.add(user_id)
                with contextlib.suppress(TelegramError):
                    await message.reply_text(STOPPING, do_quote=True)
            return False
    return True


def _duration(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f} s".replace(".0 s", " s")
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


async def _refuse(update: Update, state: BotState, user_id: int) -> None:
    if update.callback_query is not None:
        await update.callback_query.answer(NOT_ALLOWED)
        return
    now = time.monotonic()
    if now - state.refused_at.get(user_id, -REFUSAL_INTERVAL) < REFUSAL_INTERVAL:
        return  # one sentence per person per minute, or refusals become a flood of their own
    state.refused_at[user_id] = now
    if update.effective_message is not None:
        await update.effective_message.reply_text(NOT_ALLOWED)


# -- commands ----------------------------------------------------------------------------------


async def on_help(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.effective_message.reply_text(HELP)


async def on_other(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if update.effective_message is not None:
        await update.effective_message.reply_text(OTHER)


# -- photos ------------------------------------------------------------------------------------


async def on_photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await answer_message(update.effective_message, context)


async def on_document(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    document = message.document
    if not is_image_document(document.mime_type, document.file_name):
        state_of(context).report("refused")
        await message.reply_text(NOT_IMAGE, do_quote=True)
        return
    await answer_message(message, context)


def is_image_document(mime_type: str | None, file_name: str | None) -> bool:
    """Whether a document claims to be an image, by MIME type or, failing that, by name."""
    if mime_type and mime_type.lower().startswith("image/"):
        return True
    suffix = "." + file_name.rsplit(".", 1)[-1].lower() if file_name and "." in file_name else ""
    return (not mime_type or mime_type == "application/octet-stream") and suffix in IMAGE_EXTENSIONS


def _file_of(message: Message) -> tuple[str, str, int | None]:
    """(file id, unique id, size) of the message's photo (largest size) or document."""
    if message.photo:
        largest = message.photo[-1]  # Telegram lists sizes smallest first
        return largest.file_id, largest.file_unique_id, largest.file_size
    document = message.document
    return document.file_id, document.file_unique_id, document.file_size


async def answer_message(message: Message, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer a photo on its own at its turn, or gather it into its album's one reply."""
    state = state_of(context)
    group = message.media_group_id
    if group is None:
        if await wait_for_turn(message, state):
            await answer_photo(message, context)
        return
    key = f"{message.chat_id}:{group}"
    members = state.albums.setdefault(key, [])
    members.append(message)
    await asyncio.sleep(ALBUM_WAIT)
    if members[-1] is not message:
        return  # a later photo of the album answers for all of them
    state.albums.pop(key, None)
    await answer_album(sorted(members, key=lambda m: m.message_id), context)


async def answer_photo(message: Message, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Download, tag and answer one photo; every way it can fail gets a plain sentence."""
    state = state_of(context)
    await _typing(message)
    outcome = await tag_message(message, context)
    if isinstance(outcome, str):
        await message.reply_text(outcome, do_quote=True)
        return
    prefs = state.prefs_for(message.chat_id)
    states = {t.tag: t.state for t in outcome.tags}
    text, markup = render_reply(
        outcome.photo_id, [t.tag for t in outcome.tags], states, prefs, people=outcome.people
    )
    await message.reply_text(text, reply_markup=markup, do_quote=True)
    state.report("answered")


async def answer_album(messages: list[Message], context: ContextTypes.DEFAULT_TYPE) -> None:
    """One reply for an album: each photo's hashtags on a numbered line, in the album's order."""
    state = state_of(context)
    first = messages[0]
    await _typing(first)
    prefs = state.prefs_for(first.chat_id)

    async def one(message: Message) -> TaggedPhoto | str:
        if not await wait_for_turn(message, state):
            return STOPPING if state.stopping.is_set() else QUEUE_FULL
        return await tag_message(message, context)

    outcomes = await asyncio.gather(*(one(m) for m in messages))
    lines = []
    for number, outcome in enumerate(outcomes, start=1):
        if isinstance(outcome, str):
            lines.append(f"{number}. {outcome}")
            continue
        states = {t.tag: t.state for t in outcome.tags}
        text, _ = render_reply(
            outcome.photo_id, [t.tag for t in outcome.tags], states, prefs, people=outcome.people
        )
        lines.append(f"{number}. " + text.replace("\n", " "))
        state.report("answered")
    await first.reply_text("\n".join([*lines, "", ALBUM_NOTE]), do_quote=True)


async def tag_message(message: Message, context: ContextTypes.DEFAULT_TYPE) -> TaggedPhoto | str:
    """The message's photo tagged and stored, or the sentence that says why it is not."""
    state = state_of(context)
    file_id, file_unique_id, file_size = _file_of(message)
    limit = state.config.max_file_bytes
    too_big = TOO_BIG.format(limit=limit // 2**20)
    if file_size and file_size > limit:
        state.report("refused")
        return too_big
    try:
        file = await context.bot.get_file(file_id)
        if file.file_size and file.file_size > limit:
            raise BadRequest("File is too big")
        data = bytes(await file.download_as_bytearray())
    except BadRequest as exc:
        state.report("refused")
        if "too big" in exc.message.lower():
            return too_big
        log.warning("Telegram could not deliver a file: %s", redact(exc.message))
        return TELEGRAM_FAILED
    except TelegramError as exc:
        state.report("error")
        log.warning("Telegram could not deliver a file: %s", redact(str(exc)))
        return TELEGRAM_FAILED
    prefs = state.prefs_for(message.chat_id)
    try:
        return await state.service.tag(data, file_unique_id=file_unique_id, prefs=prefs)
    except DecodeError as exc:
        state.report("refused")
        log.info("unreadable photo: %s", exc)
        return UNREADABLE
    except PhotoTaggerError as exc:
        state.report("error")
        log.error("tagging failed: %s", exc)
        return ENGINE_DOWN


async def _typing(message: Message) -> None:
    try:
        await message.reply_chat_action(ChatAction.TYPING)
    except TelegramError as exc:  # only a hint to the person; the answer matters
        log.debug("typing action failed: %s", redact(str(exc)))


# -- replies and votes ---------------------------------------------------------------------------


def vote_data(photo_id: int, tag: str, action: Decision) -> str | None:
    """A button's callback data, or None where the tag is too long for Telegram's 64 bytes."""
    data = f"v:{action[0]}:{photo_id}:{tag}"
    return data if len(data.encode()) <= CALLBACK_LIMIT else None


def parse_vote(data: str) -> tuple[int, str, Decision] | None:
    """(photo id, tag, action) from callback data, or None if it is not a vote of ours."""
    parts = data.split(":", 3)
    if len(parts) != 4 or parts[0] != "v" or parts[1] not in ("a", "r") or not parts[2].isdigit():
        return None
    return int(parts[2]), parts[3], Decision.ACCEPT if parts[1] == "a" else Decision.REJECT


def render_reply(
    photo_id: int,
    tags: list[str],
    states: dict[str, TagState],
    prefs: ChatPrefs,
    *,
    people: int | None = None,
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The reply: the hashtags to copy (rejected ones dropped) and one button row per tag.

    ``people`` (faces found) adds a line saying how many, never who.
    """
    style = prefs.hashtag_style
    shown = [hashtag(t, style=style) for t in tags if states.get(t) != TagState.REJECTED]
    text = " ".join(h for h in shown if h) or NO_TAGS
    if people:
        text += f"\n{describe_people(people)}"
    rows = []
    for tag in tags:
        accept = vote_data(photo_id, tag, Decision.ACCEPT)
        reject = vote_data(photo_id, tag, Decision.REJECT)
        if accept is None or reject is None:
            continue
        state = states.get(tag)
        accepted = state is not None and state.confirmed
        rejected = state == TagState.REJECTED
        rows.append(
            [
                InlineKeyboardButton(
                    f"{'✅' if accepted else '👍'} {hashtag(tag, style=style)}",
                    callback_data=accept,
                ),
                InlineKeyboardButton("❌" if rejected else "👎", callback_data=reject),
            ]
        )
    return text, InlineKeyboardMarkup(rows) if rows else None


async def on_vote(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A 👍 / 👎 press: checked against the message's own buttons, stored, shown."""
    query = update.callback_query
    state = state_of(context)
    vote = parse_vote(query.data or "")
    message = query.message
    offered = _button_data(message)
    if vote is None or query.data not in offered:
        await query.answer("That button is no longer valid.")
        return
    photo_id, tag, action = vote
    await state.service.vote(photo_id, tag, action)
    state.report("vote")
    prefs = state.prefs_for(message.chat.id)
    tags = [v[1] for d in offered if d.startswith("v:a:") and (v := parse_vote(d))]
    states = await state.service.tag_states(photo_id)
    people = await state.service.people(photo_id)
    text, markup = render_reply(photo_id, tags, states, prefs, people=people)
    await query.answer(
        f"Saved: {hashtag(tag, style=prefs.hashtag_style)} {'👍' if action == Decision.ACCEPT else '👎'}"
    )
    try:
        await query.edit_message_text(text, reply_markup=markup)
    except BadRequest as exc:  # pressing the same vote twice changes nothing on screen
        if "not modified" not in exc.message.lower():
            raise


def _button_data(message: object) -> list[str]:
    markup = getattr(message, "reply_markup", None)
    if markup is None:
        return []
    return [b.callback_data for row in markup.inline_keyboard for b in row if b.callback_data]


# -- /settings -----------------------------------------------------------------------------------


def render_settings(prefs: ChatPrefs) -> tuple[str, InlineKeyboardMarkup]:
    def mark(label: str, chosen: bool) -> str:
        return f"• {label}" if chosen else label

    rows = [
        [
            InlineKeyboardButton(mark(f"{k} tags", k == prefs.top_k), callback_data=f"s:k:{k}")
            for k in TOP_K_CHOICES
        ],
        [
            InlineKeyboardButton(
                mark(f"≥{t:.0%}", abs(t - prefs.threshold) < 1e-9), callback_data=f"s:t:{t}"
            )
            for t in THRESHOLD_CHOICES
        ],
        [
            InlineKeyboardButton(
                mark(example, style == prefs.hashtag_style), callback_data=f"s:h:{style}"
            )
            for style, example in STYLE_CHOICES.items()
        ],
    ]
    text = (
        "Settings for this chat:\n"
        f"at most {prefs.top_k} tags, confidence at least {prefs.threshold:.0%}, "
        f"hashtags like {STYLE_CHOICES.get(prefs.hashtag_style, prefs.hashtag_style)}."
    )
    return text, InlineKeyboardMarkup(rows)


async def on_settings(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    prefs = state_of(context).prefs_for(update.effective_chat.id)
    text, markup = render_settings(prefs)
    await update.effective_message.reply_text(text, reply_markup=markup)


def apply_setting(prefs: ChatPrefs, data: str) -> ChatPrefs | None:
    """The chat's prefs after pressing a settings button, or None if the data is not ours."""
    key, value = data.split(":", 2)[1:] if data.count(":") == 2 else ("", "")
    try:
        if key == "k" and int(value) in TOP_K_CHOICES:
            return replace(prefs, top_k=int(value))
        if key == "t" and float(value) in THRESHOLD_CHOICES:
            return replace(prefs, threshold=float(value))
    except ValueError:
        return None
    if key == "h" and value in STYLE_CHOICES:
        return replace(prefs, hashtag_style=value)
    return None


async def on_settings_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    state = state_of(context)
    chat_id = query.message.chat.id
    old = state.prefs_for(chat_id)
    new = apply_setting(old, query.data or "")
    if new is None:
        await query.answer("That button is no longer valid.")
        return
    state.prefs[chat_id] = new
    await state.service.save_prefs(chat_id, new)
    await query.answer("Saved")
    if new != old:
        text, markup = render_settings(new)
        await query.edit_message_text(text, reply_markup=markup)


# -- errors ------------------------------------------------------------------------------------


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log a handler's failure in one redacted line and tell the person, never with details."""
    error = context.error
    state = context.application.bot_data.get("phototagger")
    if state is not None:
        state.report("error")
    log.error("handler failed: %s: %s", type(error).__name__, redact(str(error)))
    if isinstance(update, Update) and update.effective_message is not None:
        with contextlib.suppress(TelegramError):
            await update.effective_message.reply_text(ENGINE_DOWN)
