"""The bot token: kept in the OS keyring, never shown, never logged.

The token is the bot's password: whoever holds it can read every chat with the
bot. So it lives in the OS keyring (``PHOTOTAGGER_BOT_TOKEN`` only where no
keyring exists, e.g. a headless server), travels inside a :class:`Secret` whose
``repr`` and ``str`` are masked, and every log record of the process is scrubbed
of it. python-telegram-bot and httpx put the token in every URL they log, so
filtering one logger is not enough: :func:`register_secret` installs a log record
factory that redacts the text of every record, whichever logger made it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
from typing import Any

SERVICE = "PhotoTagger"
"""The keyring service name the token is stored under."""
KEYRING_USER = "telegram-bot-token"
ENV_VAR = "PHOTOTAGGER_BOT_TOKEN"
MASK = "********"

_TOKEN_SHAPE = re.compile(r"^\d{1,20}:[A-Za-z0-9_-]{1,100}$")

log = logging.getLogger(__name__)


class Secret:
    """A string that does not show itself: ``repr``, ``str`` and f-strings print a mask.

    Call :meth:`reveal` at the one place the real value is needed (building the
    Telegram client), so a stray ``print`` or log argument cannot leak it.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value.strip()

    def reveal(self) -> str:
        return self._value

    def masked(self) -> str:
        """What a settings field shows: the bot id part only, never the secret part."""
        if not self._value:
            return ""
        bot_id = self._value.split(":", 1)[0]
        return f"{bot_id}:{MASK}" if bot_id.isdigit() else MASK

    @property
    def looks_valid(self) -> bool:
        """Whether it has the ``<digits>:<secret>`` shape BotFather hands out."""
        return bool(_TOKEN_SHAPE.match(self._value))

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return f"Secret({self.masked() or ''!r})"

    __str__ = masked

    def __format__(self, spec: str) -> str:
        return format(self.masked(), spec)

    def __reduce__(self) -> Any:
        raise TypeError("a Secret is not pickled, so it cannot end up in a file")


# -- keyring -----------------------------------------------------------------------------------


def _keyring() -> Any | None:
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:  # pragma: no cover - keyring is a declared dependency
        return None
    if isinstance(keyring.get_keyring(), fail.Keyring):
        return None
    return keyring


def keyring_available() -> bool:
    """Whether an OS keyring backend exists (the settings panel says where the token goes)."""
    return _keyring() is not None


def load_token(environ: dict[str, str] | None = None) -> Secret | None:
    """The stored token: the keyring first, then ``PHOTOTAGGER_BOT_TOKEN``; None if neither."""
    backend = _keyring()
    if backend is not None:
        try:
            value = backend.get_password(SERVICE, KEYRING_USER)
        except Exception as exc:  # a locked or broken keyring must not stop a headless start
            log.warning("cannot read the keyring (%s); trying %s", type(exc).__name__, ENV_VAR)
            value = None
        if value:
            return register_secret(Secret(value))
    value = (os.environ if environ is None else environ).get(ENV_VAR, "")
    return register_secret(Secret(value)) if value.strip() else None


def save_token(token: Secret | str) -> None:
    """Store the token in the OS keyring.

    Raises:
        RuntimeError: Where no keyring exists; the message names the environment fallback.
    """
    secret = token if isinstance(token, Secret) else Secret(token)
    register_secret(secret)
    backend = _keyring()
    if backend is None:
        raise RuntimeError(f"no OS keyring is available here; set {ENV_VAR} instead")
    backend.set_password(SERVICE, KEYRING_USER, secret.reveal())


def delete_token() -> None:
    """Forget the token stored in the keyring (the environment variable is the user's own)."""
    backend = _keyring()
    if backend is None:
        return
    # PasswordDeleteError means nothing was stored, which is the goal anyway.
    with contextlib.suppress(Exception):
        backend.delete_password(SERVICE, KEYRING_USER)


# -- redaction ---------------------------------------------------------------------------------

_secrets: set[str] = set()
_secrets_lock = threading.Lock()
_factory_installed = False


def redact(text: str) -> str:
    """``text`` with every registered token (and its secret half alone) replaced by a mask."""
    with _secrets_lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for value in secrets:
        if value in text:
            text = text.replace(value, MASK)
    return text


def register_secret(secret: Secret) -> Secret:
    """Make every log record of this process scrub ``secret`` from its text from now on.

    Both the whole token and its part after the colon are registered: the secret
    half alone is still enough to leak (it is the part that authenticates).
    """
    value = secret.reveal()
    if not value:
        return secret
    with _secrets_lock:
        _secrets.add(value)
        if ":" in value and len(value.split(":", 1)[1]) >= 8:
            _secrets.add(value.split(":", 1)[1])
    _install_record_factory()
    return secret


def _install_record_factory() -> None:
    # A record factory is the one hook every record passes through before any
    # handler or filter sees it (pytest's caplog, the console, our ring buffer,
    # handlers added later), which is what "never in a log line" needs.
    global _factory_installed
    with _secrets_lock:
        if _factory_installed:
            return
        _factory_installed = True
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        scrub_record(record)
        return record

    logging.setLogRecordFactory(factory)


def scrub_record(record: logging.LogRecord) -> logging.LogRecord:
    """Render the record's message and traceback now, redacted, so no handler sees the token."""
    if not _secrets:
        return record
    try:
        message = record.getMessage()
    except Exception:  # a bad format string is logging's own error to report
        return record
    clean = redact(message)
    if clean != message or record.args:
        record.msg, record.args = clean, None
    if record.exc_info and record.exc_info[1] is not None:
        text = logging.Formatter().formatException(record.exc_info)
        record.exc_text = redact(text)
        # The traceback is kept as text; the live exception object could still leak it.
        record.exc_info = None
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    return record


class RedactingFilter(logging.Filter):
    """A handler filter that scrubs records (for handlers that see records made elsewhere)."""

    def filter(self, record: logging.LogRecord) -> bool:
        scrub_record(record)
        return True
