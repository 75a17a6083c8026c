"""A fake Telegram Bot API server on 127.0.0.1 for bot tests.

The real python-telegram-bot client talks to it over HTTP exactly as it would talk to
api.telegram.org, so tests exercise PTB's request encoding, error mapping and polling loop
instead of mocking them away, without any network access beyond the loopback interface.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import socket
import sys
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message as _MimeHeaders
from email.parser import BytesHeaderParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from PIL import Image

Params = dict[str, Any]

MAX_DOWNLOAD_SIZE = 20 * 1024 * 1024
"""Telegram's getFile limit for bots on the cloud Bot API (20 MB)."""

# PTB sends strings raw and every other value JSON-encoded, so form values are ambiguous;
# these parameters are strings in the Bot API and are never JSON-decoded.
_STRING_FIELDS = frozenset(
    {"text", "caption", "file_id", "callback_query_id", "parse_mode", "action", "url"}
    | {"inline_message_id", "language_code", "filename", "secret_token", "emoji"}
)
_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request, recorded so tests can inspect what the bot sent."""

    filename: str | None
    content_type: str
    data: bytes = field(repr=False)


class _ApiError(Exception):
    """An error answer of the Bot API; carried as an exception to unwind the dispatch."""

    def __init__(self, code: int, description: str, parameters: Params | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters


def _decode(key: str, value: str) -> Any:
    if key in _STRING_FIELDS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _parse_multipart(content_type: str, body: bytes) -> Params:
    """Splits a multipart/form-data body by hand, because that is binary-safe and brief."""
    headers = _MimeHeaders()
    headers["content-type"] = content_type
    boundary = str(headers.get_param("boundary", "")).encode()
    params: Params = {}
    for chunk in body.split(b"--" + boundary)[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, payload = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        payload = payload.removesuffix(b"\r\n")
        part = BytesHeaderParser().parsebytes(head + b"\r\n\r\n")
        name = str(part.get_param("name", header="content-disposition"))
        if part.get_filename() is not None:
            params[name] = UploadedFile(part.get_filename(), part.get_content_type(), payload)
        else:
            params[name] = _decode(name, payload.decode("utf-8"))
    return params


def _image_size(data: bytes) -> tuple[int, int] | None:
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except Exception:  # anything Pillow cannot read is simply "not an image"
        return None


def _thumbnail(data: bytes, side: int) -> tuple[bytes, int, int]:
    with Image.open(io.BytesIO(data)) as image:
        image = image.convert("RGB")
        image.thumbnail((side, side))
        out = io.BytesIO()
        image.save(out, "JPEG", quality=80)
        return out.getvalue(), image.width, image.height


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a parked long poll must never hold up shutdown

    def __init__(self, api: FakeBotApi) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.api = api
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # clients hanging up mid-poll is normal
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive like the real API, which httpx expects
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep pytest output clean

    def do_GET(self) -> None:
        api = self.server.api
        with api._cond:
            api._active += 1
        try:
            api._handle(self)
        finally:
            with api._cond:
                api._active -= 1
                api._cond.notify_all()

    do_POST = do_GET

    def send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        with contextlib.suppress(OSError):  # the client went away, e.g. a cancelled long poll
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)


class FakeBotApi:
    """In-process Bot API server with helpers to inject updates and inspect bot calls.

    Args:
        token: The only token the server accepts; any other gets 401 Unauthorized.
        max_download_size: Files larger than this are registered but getFile refuses them,
            as Telegram does above 20 MB; lower it to test that path with small data.
    """

    def __init__(self, token: str = "123:ABC", *, max_download_size: int = MAX_DOWNLOAD_SIZE):
        self.token = token
        self.max_download_size = max_download_size
        self.sent: list[tuple[str, Params]] = []
        self.commands: list[Params] = []
        self.bot_user: Params = {
            "id": int(token.split(":")[0]) if token.split(":")[0].isdigit() else 1,
            "is_bot": True,
            "first_name": "PhotoTagger Test",
            "username": "phototagger_test_bot",
        }
        self._cond = threading.Condition(threading.RLock())
        self._updates: list[Params] = []
        self._messages: dict[tuple[int | str, int], Params] = {}
        self._files: dict[str, tuple[Params, bytes]] = {}  # file_id -> (File object, data)
        self._paths: dict[str, bytes] = {}
        self._failures: dict[str, deque[int]] = defaultdict(deque)
        self._ids = itertools.count(1)
        self._stopping = False
        self._conflict = False
        self._active = 0  # requests being handled, so stop() can let parked polls answer
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.base_url = self.base_file_url = ""
        self._dispatch = self._methods()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeBotApi:
        """Binds a free loopback port and serves from a daemon thread."""
        self._server = _Server(self)
        root = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.base_url, self.base_file_url = f"{root}/bot", f"{root}/file/bot"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Wakes parked long polls, closes open connections and stops serving (well under 1 s)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            self._cond.wait_for(lambda: self._active == 0, timeout=0.5)
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        with self._server.connections_lock:
            for conn in list(self._server.connections):  # idle keep-alive readers
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=1)
        self._server = None

    def __enter__(self) -> FakeBotApi:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- test-side helpers ---------------------------------------------------------------------

    def add_text_message(self, chat_id: int, user_id: int, text: str) -> int:
        """Queues a text message; a leading /command gets the bot_command entity PTB needs."""
        extra: Params = {"text": text}
        if text.startswith("/"):
            length = len(text.split(maxsplit=1)[0])
            extra["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        return self._add_message(chat_id, user_id, extra)

    def add_photo_message(
        self,
        chat_id: int,
        user_id: int,
        data: bytes,
        *,
        caption: str | None = None,
        media_group_id: str | None = None,
    ) -> int:
        """Queues a photo message whose largest (last) size serves exactly ``data``."""
        extra: Params = {"photo": self._photo_sizes(data), "caption": caption}
        return self._add_message(chat_id, user_id, extra, media_group_id)

    def add_document_message(
        self,
        chat_id: int,
        user_id: int,
        data: bytes,
        *,
        file_name: str,
        mime_type: str,
        caption: str | None = None,
        media_group_id: str | None = None,
    ) -> int:
        """Queues a document message, the way uncompressed photos usually arrive."""
        suffix = "." + file_name.rsplit(".", 1)[1] if "." in file_name else ""
        document = self._register_file(data, "documents", suffix)
        document.update(file_name=file_name, mime_type=mime_type)
        extra: Params = {"document": document, "caption": caption}
        return self._add_message(chat_id, user_id, extra, media_group_id)

    def add_callback_query(self, chat_id: int, user_id: int, message_id: int, data: str) -> str:
        """Queues a button press on ``message_id``; returns the callback query id."""
        with self._cond:
            message = self._messages.get((chat_id, message_id))
            message = message or self._message(chat_id, self.bot_user, message_id, text="")
            query_id = f"cbq{next(self._ids)}"
            query = {
                "id": query_id,
                "from": self._user(user_id),
                "message": message,
                "chat_instance": f"ci{chat_id}",
                "data": data,
            }
            self._enqueue({"callback_query": query})
            return query_id

    def fail_next(self, method: str, *, retry_after: int = 1) -> None:
        """Makes the next call of ``method`` answer 429 Too Many Requests (flood control)."""
        with self._cond:
            self._failures[method.lower()].append(retry_after)

    def conflict(self, on: bool = True) -> None:
        """Makes getUpdates answer 409 Conflict, as Telegram does while another copy polls."""
        with self._cond:
            self._conflict = on
            self._cond.notify_all()

    def lose_files(self) -> None:
        """Makes every file known so far fail to download (404), as an expired file does."""
        with self._cond:
            self._paths.clear()

    def calls(self, method: str) -> list[Params]:
        """Snapshot of the params of every recorded call of ``method`` (case-insensitive)."""
        with self._cond:
            return [p for m, p in self.sent if m.lower() == method.lower()]

    def messages(self, chat_id: int | str) -> list[Params]:
        """Snapshot of the chat's messages, user's and bot's, in order, as the fake holds them.

        Tests use it to learn ids the bot only saw in API answers, e.g. to press its buttons.
        """
        with self._cond:
            return sorted(
                (m for (chat, _), m in self._messages.items() if chat == chat_id),
                key=lambda m: m["message_id"],
            )

    def wait_for(
        self,
        method: str,
        *,
        count: int = 1,
        timeout: float = 10,
        predicate: Callable[[Params], bool] | None = None,
    ) -> list[Params]:
        """Blocks until ``count`` matching calls were recorded, since bots answer asynchronously.

        Raises:
            AssertionError: On timeout, listing every call seen so the failure is diagnosable.
        """

        def matching() -> list[Params]:
            return [p for p in self.calls(method) if predicate is None or predicate(p)]

        with self._cond:
            if self._cond.wait_for(lambda: len(matching()) >= count, timeout=timeout):
                return matching()
            seen = list(self.sent)
        raise AssertionError(
            f"expected {count} matching {method} call(s) in {timeout}s; saw {seen}"
        )

    # -- internals -----------------------------------------------------------------------------

    def _user(self, user_id: int) -> Params:
        return {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}

    def _chat(self, chat_id: int | str) -> Params:
        if isinstance(chat_id, int) and chat_id > 0:
            return {"id": chat_id, "type": "private", "first_name": f"User{chat_id}"}
        return {"id": chat_id, "type": "supergroup", "title": f"Group {chat_id}"}

    def _message(
        self, chat_id: int | str, sender: Params, message_id: int | None = None, **fields: Any
    ) -> Params:
        """Builds and stores a Message, so later edits and button presses can refer to it."""
        with self._cond:
            message_id = next(self._ids) if message_id is None else message_id
            message = {"message_id": message_id, "date": int(time.time())}
            message.update(chat=self._chat(chat_id), **{"from": sender})
            message.update({k: v for k, v in fields.items() if v is not None})
            self._messages[(chat_id, message_id)] = message
            return message

    def _enqueue(self, payload: Params) -> None:
        with self._cond:
            self._updates.append({"update_id": next(self._ids), **payload})
            self._cond.notify_all()

    def _add_message(
        self, chat_id: int, user_id: int, extra: Params, media_group_id: str | None = None
    ) -> int:
        with self._cond:
            message = self._message(
                chat_id, self._user(user_id), media_group_id=media_group_id, **extra
            )
            self._enqueue({"message": message})
            return message["message_id"]

    def _register_file(self, data: bytes, kind: str, suffix: str) -> Params:
        with self._cond:
            n = next(self._ids)
            info = {"file_id": f"fake-{kind}-{n}", "file_unique_id": f"uniq{n}"}
            info.update(file_size=len(data), file_path=f"{kind}/file_{n}{suffix}")
            self._files[info["file_id"]] = (info, data)
            self._paths[info["file_path"]] = data
        return {k: v for k, v in info.items() if k != "file_path"}

    def _photo_sizes(self, data: bytes) -> list[Params]:
        """Telegram sends each photo in several sizes, largest last; the last is ``data``."""
        size = _image_size(data)
        variants = [_thumbnail(data, side) if size else (data, 0, 0) for side in (90, 320)]
        variants.append((data, *(size or (0, 0))))
        return [
            {**self._register_file(blob, "photos", ".jpg"), "width": width, "height": height}
            for blob, width, height in variants
        ]

    def _edit(self, p: Params, *fields: str) -> Params | bool:
        """Applies an edit; like Telegram, an edit that changes nothing is a Bad Request."""
        if "inline_message_id" in p:
            return True
        with self._cond:
            key = (p["chat_id"], p["message_id"])
            old = self._messages.get(key) or self._message(key[0], self.bot_user, key[1])
            new = {k: v for k, v in old.items() if k != "reply_markup"}
            new.update({k: p[k] for k in (*fields, "reply_markup") if p.get(k) is not None})
            if new == old:
                raise _ApiError(400, f"Bad Request: {_NOT_MODIFIED}")
            self._messages[key] = new
            return new

    def _get_updates(self, p: Params) -> list[Params]:
        offset, limit = int(p.get("offset") or 0), int(p.get("limit") or 100)
        deadline = time.monotonic() + min(float(p.get("timeout") or 0), 50)
        with self._cond:
            if self._conflict:
                raise _ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            while not self._updates and not self._stopping:
                if not self._cond.wait(deadline - time.monotonic()):
                    break
            return self._updates[:limit]

    def _get_file(self, p: Params) -> Params:
        with self._cond:
            if p.get("file_id") not in self._files:
                raise _ApiError(400, "Bad Request: invalid file_id")
            info, data = self._files[p["file_id"]]
        if len(data) > self.max_download_size:
            raise _ApiError(400, "Bad Request: file is too big")
        return dict(info)

    def _send_message(self, p: Params) -> Params:
        if not p.get("chat_id"):
            raise _ApiError(400, "Bad Request: chat_id is empty")
        if not p.get("text"):
            raise _ApiError(400, "Bad Request: message text is empty")
        return self._message(
            p["chat_id"], self.bot_user, text=p["text"], reply_markup=p.get("reply_markup")
        )

    def _send_file(self, p: Params, kind: str) -> Params:
        """sendPhoto/sendDocument: uploads become downloadable files, like on Telegram."""
        upload = p[kind]
        if isinstance(upload, UploadedFile):
            data, name, mime = upload.data, upload.filename, upload.content_type
        else:  # a file_id of a file the fake already holds (or a URL, served as empty)
            data, name, mime = self._files.get(str(upload), ({}, b""))[1], None, None
        if kind == "photo":
            media: Any = self._photo_sizes(data)
        else:
            media = {**self._register_file(data, "documents", ""), "file_name": name}
            media["mime_type"] = mime
        return self._message(p["chat_id"], self.bot_user, caption=p.get("caption"), **{kind: media})

    def _methods(self) -> dict[str, Callable[[Params], Any]]:
        def constant(value: Any) -> Callable[[Params], Any]:
            return lambda p: value

        def set_commands(p: Params) -> bool:
            self.commands = list(p.get("commands") or [])
            return True

        return {
            "getme": constant(self.bot_user),
            "getupdates": self._get_updates,
            "deletewebhook": constant(True),
            "setmycommands": set_commands,
            "getmycommands": lambda p: self.commands,
            "deletemycommands": lambda p: set_commands({}),
            "sendmessage": self._send_message,
            "senddocument": lambda p: self._send_file(p, "document"),
            "sendphoto": lambda p: self._send_file(p, "photo"),
            "sendchataction": constant(True),
            "getfile": self._get_file,
            "answercallbackquery": constant(True),
            "deletemessage": constant(True),
            "editmessagetext": lambda p: self._edit(p, "text"),
            "editmessagecaption": lambda p: self._edit(p, "caption"),
            "editmessagereplymarkup": lambda p: self._edit(p),
        }

    def _read_params(self, handler: _Handler) -> Params:
        url = urlsplit(handler.path)
        params: Params = {k: _decode(k, v) for k, v in parse_qsl(url.query)}
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        content_type = handler.headers.get("Content-Type", "")
        if content_type.startswith("application/json") and body:
            try:
                params.update(json.loads(body))
            except ValueError as exc:
                raise _ApiError(400, "Bad Request: can't parse JSON") from exc
        elif content_type.startswith("multipart/form-data"):
            params.update(_parse_multipart(content_type, body))
        elif body:
            params.update({k: _decode(k, v) for k, v in parse_qsl(body.decode("utf-8"))})
        return params

    def _call(self, method: str, params: Params) -> Any:
        with self._cond:
            failures = self._failures[method.lower()]
            wait = failures.popleft() if failures else None
        if wait is not None:
            raise _ApiError(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})
        implementation = self._dispatch.get(method.lower())
        if implementation is None:  # Telegram says just "Not Found"; the name helps debugging
            raise _ApiError(404, f"Not Found: method {method!r} is not faked")
        try:
            return implementation(params)
        except (KeyError, ValueError, TypeError) as exc:  # missing or malformed parameters
            raise _ApiError(400, f"Bad Request: fake server rejected the call: {exc!r}") from exc

    def _handle(self, handler: _Handler) -> None:
        path = unquote(urlsplit(handler.path).path)  # PTB percent-encodes file URLs
        method = ""
        try:
            params = self._read_params(handler)  # always drain the body to keep the connection
            prefix = "/file/bot" if path.startswith("/file/bot") else "/bot"
            token, _, rest = path.removeprefix(prefix).partition("/")
            if not path.startswith(prefix):
                raise _ApiError(404, "Not Found")
            if token != self.token:
                raise _ApiError(401, "Unauthorized")
            if prefix == "/file/bot":
                with self._cond:
                    data = self._paths.get(rest)
                if data is None:
                    raise _ApiError(404, "Not Found")
                handler.send(200, data, "application/octet-stream")
                return
            method = rest
            status, body = 200, {"ok": True, "result": self._call(method, params)}
        except _ApiError as exc:
            status, body = exc.code, {"ok": False, "error_code": exc.code}
            body["description"] = exc.description
            if exc.parameters:
                body["parameters"] = exc.parameters
        if method and method.lower() != "getupdates":
            with self._cond:  # recorded once handled, so wait_for sees the fake's new state
                self.sent.append((method, params))
                self._cond.notify_all()
        handler.send(status, json.dumps(body).encode())
