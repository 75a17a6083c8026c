"""The bot in a thread of its own: what the desktop app and ``phototagger bot`` start and stop.

This is the only module of ``bot/`` the desktop app imports (an import-linter
contract). It has no Qt in it: status changes and log lines reach listeners,
called from the bot's thread, which the desktop wraps into queued Qt signals.

Each :meth:`BotRunner.start` builds a fresh event loop, engine service and PTB
Application in a new thread; :meth:`BotRunner.stop` wakes that loop through
``call_soon_threadsafe`` and, if asked, waits for the thread. Nothing here
blocks the calling thread for longer than a lock, unless ``wait`` is given.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from bot.config import BotConfig, ChatPrefs
from bot.credentials import (  # keyring_available, load_token, save_token: for the desktop
    RedactingFilter,
    Secret,
    keyring_available,
    load_token,
    redact,
    register_secret,
    save_token,
)
from bot.service import TaggerFactory
from core.settings import Settings

# Re-exported: the desktop reaches the bot only through this module (import-linter).
__all__ = [
    "BotCounts",
    "BotRunner",
    "RunnerStatus",
    "Secret",
    "State",
    "keyring_available",
    "load_token",
    "save_token",
]

log = logging.getLogger(__name__)

State = Literal["stopped", "starting", "running", "stopping", "error"]
Listener = Callable[["RunnerStatus"], None]
LOGGERS = {"bot": logging.INFO, "core": logging.WARNING, "telegram": logging.WARNING}
"""Whose records reach the runner's log buffer, and from which level (httpx's are noise)."""


@dataclass(frozen=True)
class RunnerStatus:
    """Where the bot stands: the status light and the line next to it.

    Attributes:
        state: stopped, starting, running, stopping or error.
        message: A sentence for the panel (the bot's @name, or what went wrong).
    """

    state: State
    message: str = ""


@dataclass(frozen=True)
class BotCounts:
    """What the bot did since the runner was made (across restarts)."""

    answered: int = 0
    refused: int = 0
    limited: int = 0
    votes: int = 0
    errors: int = 0


@dataclass
class _Run:
    """One start: its thread, and its loop and stop event once the thread made them."""

    config: BotConfig
    thread: threading.Thread = field(init=False)
    stop_requested: threading.Event = field(default_factory=threading.Event)
    loop: asyncio.AbstractEventLoop | None = None
    stop_event: asyncio.Event | None = None


class _RingHandler(logging.Handler):
    def __init__(self, runner: BotRunner, level: int) -> None:
        super().__init__(level)
        self.runner = runner
        self.addFilter(RedactingFilter())
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = redact(self.format(record))
        except Exception:
            self.handleError(record)
            return
        self.runner._add_log_line(line)  # noqa: SLF001 (the runner owns this handler)


class BotRunner:
    """Starts, stops and watches the Telegram bot from any thread.

    Args:
        settings: App settings (Bot API URL, allow-list, tag defaults, backbone).
        token: The bot token; default: the keyring, then ``PHOTOTAGGER_BOT_TOKEN``.
        database: The store to write to (default: the settings' database).
        tagger_factory: Opens the tagger (tests and the desktop hand in an open one).
        log_lines: How many recent log lines to keep for the panel.
        **config_overrides: Any other :class:`~bot.config.BotConfig` field (limits).
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        token: Secret | str | None = None,
        database: Path | None = None,
        tagger_factory: TaggerFactory | None = None,
        log_lines: int = 200,
        **config_overrides: object,
    ) -> None:
        self._settings = settings or Settings()
        self._token = _as_secret(token)
        self._database = database
        self._tagger_factory = tagger_factory
        self._overrides = config_overrides
        self._lock = threading.RLock()
        self._status = RunnerStatus("stopped")
        self._counts = BotCounts()
        self._lines: collections.deque[str] = collections.deque(maxlen=log_lines)
        self._listeners: list[Listener] = []
        self._log_listeners: list[Callable[[str], None]] = []
        self._prefs: dict[int, ChatPrefs] = {}  # per chat, loaded from the store at each start
        self._run: _Run | None = None
        self._handlers: list[tuple[logging.Logger, logging.Handler]] = []

    # -- public API ------------------------------------------------------------------------------

    @property
    def status(self) -> RunnerStatus:
        with self._lock:
            return self._status

    @property
    def state(self) -> State:
        return self.status.state

    @property
    def is_running(self) -> bool:
        """Whether a bot thread is alive (starting, running or stopping)."""
        with self._lock:
            return self._run is not None and self._run.thread.is_alive()

    @property
    def counts(self) -> BotCounts:
        with self._lock:
            return self._counts

    @property
    def photos_answered(self) -> int:
        return self.counts.answered

    def log_lines(self) -> list[str]:
        """The last log lines, oldest first, with the token masked."""
        with self._lock:
            return list(self._lines)

    def add_listener(self, callback: Listener) -> Callable[[], None]:
        """Call ``callback(status)`` on every status change, from whichever thread made it.

        Returns:
            A function that removes the listener.
        """
        with self._lock:
            self._listeners.append(callback)
        return lambda: self._remove(self._listeners, callback)

    def add_log_listener(self, callback: Callable[[str], None]) -> Callable[[], None]:
        """Call ``callback(line)`` for every new (redacted) log line, from any thread."""
        with self._lock:
            self._log_listeners.append(callback)
        return lambda: self._remove(self._log_listeners, callback)

    def configure(
        self, *, settings: Settings | None = None, token: Secret | str | None = None
    ) -> None:
        """New settings or token for the next start (a running bot keeps its own)."""
        with self._lock:
            if settings is not None:
                self._settings = settings
            if token is not None:
                self._token = _as_secret(token)

    def start(self, *, settings: Settings | None = None, token: Secret | str | None = None) -> None:
        """Start the bot in a new thread and return at once; watch :attr:`status` for 'running'.

        A bot that is still stopping is waited for (briefly) first. Problems that
        show before any thread starts (no token, a bad allow-list) become the
        'error' status, as later ones do, so the caller has one place to look.
        """
        self.configure(settings=settings, token=token)
        with self._lock:
            if self._run is not None and self._run.thread.is_alive():
                if not self._run.stop_requested.is_set():
                    return  # already running: start is idempotent
                previous = self._run.thread
            else:
                previous = None
        if previous is not None:
            previous.join(timeout=15)
        with self._lock:
            try:
                config = self._config()
            except ValueError as exc:
                self._set_status("error", redact(str(exc)))
                return
            self._attach_logging()
            run = _Run(config)
            run.thread = threading.Thread(
                target=self._thread_main, args=(run,), name="telegram-bot", daemon=True
            )
            self._run = run
            self._set_status("starting", "loading the tagger and connecting to Telegram")
            run.thread.start()

    def stop(self, *, wait: bool = False, timeout: float = 15.0) -> bool:
        """Ask the bot to stop; with ``wait``, block until its thread ended.

        Safe from any thread, at any state, any number of times.

        Returns:
            True when no bot thread is left running.
        """
        with self._lock:
            run = self._run
            if run is None or not run.thread.is_alive():
                return True
            if not run.stop_requested.is_set():
                run.stop_requested.set()
                if self._status.state in ("starting", "running"):
                    self._set_status("stopping", "stopping")
                if run.loop is not None and run.stop_event is not None:
                    run.loop.call_soon_threadsafe(run.stop_event.set)
        if wait:
            run.thread.join(timeout)
            return not run.thread.is_alive()
        return False

    def close(self, timeout: float = 15.0) -> bool:
        """Stop and wait (the app is quitting); detaches the runner's log handlers."""
        stopped = self.stop(wait=True, timeout=timeout)
        self._detach_logging()
        return stopped

    def wait_for_state(self, *states: State, timeout: float = 30.0) -> bool:
        """Block until the status is one of ``states`` (headless use and tests)."""
        done = threading.Event()

        def check(status: RunnerStatus) -> None:
            if status.state in states:
                done.set()

        remove = self.add_listener(check)
        try:
            check(self.status)
            return done.wait(timeout)
        finally:
            remove()

    def __repr__(self) -> str:
        return f"BotRunner(state={self.state!r}, answered={self.photos_answered})"

    # -- the bot thread ----------------------------------------------------------------------------

    def _config(self) -> BotConfig:
        token = self._token
        if token is None:
            token = load_token()
        if not token:
            raise ValueError(
                "no bot token: enter the one BotFather gave you, or set PHOTOTAGGER_BOT_TOKEN"
            )
        register_secret(token)
        config = BotConfig.from_settings(self._settings, token=token, database=self._database)
        if not config.open_to_all and not config.allowed_users:
            log.warning("nobody is on the allow-list: the bot will answer no one")
        return replace(config, **self._overrides) if self._overrides else config  # type: ignore[arg-type]

    def _thread_main(self, run: _Run) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve(run, loop, run.config))
            self._set_status("stopped", "")
        except Exception as exc:
            message = _describe(exc)
            log.error("the bot stopped: %s", message)
            self._set_status("error", message)
        finally:
            with self._lock:  # a stop() from now on must not reach the closing loop
                run.loop = run.stop_event = None
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            asyncio.set_event_loop(None)

    async def _serve(self, run: _Run, loop: asyncio.AbstractEventLoop, config: BotConfig) -> None:
        from telegram.error import InvalidToken, NetworkError

        from bot.handlers import BotState, build_application, set_command_menu
        from bot.instance import ELSEWHERE, InstanceLock
        from bot.service import PhotoService
        from core.settings import data_dir

        stop_event = asyncio.Event()
        with self._lock:
            run.loop, run.stop_event = loop, stop_event
            if run.stop_requested.is_set():
                return
        conflict: list[str] = []

        def polling_error(error: Exception) -> None:
            from telegram.error import Conflict

            if isinstance(error, Conflict):  # polling again would only fight the other copy
                if not conflict:
                    conflict.append(ELSEWHERE)
                    stop_event.set()
                return
            self._polling_error(error)

        lock = InstanceLock(data_dir(), config.token)
        try:
            lock.acquire()  # before Telegram is asked anything: a second copy stops here
        except RuntimeError as exc:
            raise BotApiError(str(exc)) from None
        service = PhotoService(config, self._tagger_factory)
        try:
            await service.warm_up()  # the model loads before we claim to be running
            if stop_event.is_set():
                return
            self._prefs.update(await service.chat_prefs())
            state = BotState(config, service, self._prefs, report=self._count)
            app = build_application(state)
            try:
                await app.initialize()  # getMe: checks the URL and the token
            except (InvalidToken, NetworkError) as exc:
                raise BotApiError(_describe_start(exc, config.api_url)) from None
            try:
                await set_command_menu(app)
                await app.updater.start_polling(
                    timeout=int(config.poll_timeout), error_callback=polling_error
                )
                await app.start()
                log.info("bot @%s is running", app.bot.username)
                self._set_status("running", f"@{app.bot.username}")
                await stop_event.wait()
                log.info("bot @%s is stopping", app.bot.username)
                state.stopping.set()  # photos waiting their turn give up at once
                if app.updater.running:
                    await app.updater.stop()
                await app.stop()
            finally:
                await app.shutdown()
        finally:
            await asyncio.to_thread(service.close)
            lock.release()
        if conflict:
            raise BotApiError(conflict[0])

    def _polling_error(self, error: Exception) -> None:
        # PTB retries polling by itself; say what is wrong without flooding the log.
        log.warning("polling Telegram failed, retrying: %s", _describe(error))

    # -- bookkeeping -----------------------------------------------------------------------------

    def _count(self, event: str) -> None:
        name = {"answered": "answered", "refused": "refused", "limited": "limited"}.get(event)
        name = name or {"vote": "votes", "error": "errors"}.get(event)
        if name is None:
            return
        with self._lock:
            self._counts = replace(self._counts, **{name: getattr(self._counts, name) + 1})

    def _set_status(self, state: State, message: str) -> None:
        with self._lock:
            status = RunnerStatus(state, redact(message))
            if status == self._status:
                return
            self._status = status
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(status)
            except Exception:  # a broken listener must not take the bot down
                log.exception("status listener failed")

    def _add_log_line(self, line: str) -> None:
        with self._lock:
            self._lines.append(line)
            listeners = list(self._log_listeners)
        for listener in listeners:
            with contextlib.suppress(Exception):  # logging from here would recurse
                listener(line)

    def _attach_logging(self) -> None:
        if self._handlers:
            return
        for name, level in LOGGERS.items():
            logger = logging.getLogger(name)
            handler = _RingHandler(self, level)
            logger.addHandler(handler)
            if logger.getEffectiveLevel() > level:
                logger.setLevel(level)  # the panel shows INFO lines even when the root is WARNING
            self._handlers.append((logger, handler))

    def _detach_logging(self) -> None:
        for logger, handler in self._handlers:
            logger.removeHandler(handler)
        self._handlers.clear()

    def _remove(self, items: list, item: object) -> None:
        with self._lock:
            if item in items:
                items.remove(item)


def _as_secret(token: Secret | str | None) -> Secret | None:
    if token is None:
        return None
    secret = token if isinstance(token, Secret) else Secret(token)
    return register_secret(secret)


class BotApiError(RuntimeError):
    """The bot cannot work with this Bot API server, token or computer; one sentence why."""


def _describe_start(exc: Exception, api_url: str) -> str:
    """Which part of the Bot API URL or the token is wrong, from getMe's failure."""
    from telegram.error import InvalidToken

    parts = urlsplit(api_url)
    server = f"{parts.scheme}://{parts.netloc}"
    if isinstance(exc, InvalidToken):
        answer = str(exc.__cause__ or exc)  # PTB wraps the server's answer in its own
        if "not found" in answer.lower():
            return (
                f"the server at {server} has no Bot API under {parts.path or '/'}: "
                "check the path of the Bot API URL (or the bot token)"
            )
        return "Telegram refused the bot token; check it in the settings"
    return (
        f"cannot reach the Bot API server at {server}: check the host and port of the "
        f"Bot API URL, and the network ({redact(str(exc)) or type(exc).__name__})"
    )


def _describe(exc: BaseException) -> str:
    """One redacted sentence for the status line: what failed, in words a person can act on."""
    from telegram.error import InvalidToken, NetworkError

    if isinstance(exc, BotApiError):
        return redact(str(exc))
    if isinstance(exc, InvalidToken):
        return "Telegram refused the bot token; check it in the settings"
    text = redact(str(exc)) or type(exc).__name__
    if isinstance(exc, NetworkError):
        return f"cannot reach the Telegram Bot API: {text}"
    return f"{type(exc).__name__}: {text}" if not text.startswith(type(exc).__name__) else text
