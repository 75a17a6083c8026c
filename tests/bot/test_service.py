"""The bot as a long-running service: stopping, one copy per token, menu, bursts, albums, URLs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.config import normalise_api_url
from bot.handlers import COMMANDS, SLOW_DOWN, STOPPING, TELEGRAM_FAILED
from bot.limits import FloodGate
from tests.bot.conftest import CHAT, TOKEN, USER
from tests.bot.fake_telegram import FakeBotApi
from tests.conftest import shared

ROOT = Path(__file__).resolve().parents[2]


def photo_bytes(name: str) -> bytes:
    return shared("imagenet-sample", name).read_bytes()


def texts(api: FakeBotApi) -> list[str]:
    return [p["text"] for p in api.calls("sendMessage") if "text" in p]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8081", "http://127.0.0.1:8081/bot"),
        ("http://127.0.0.1:8081/", "http://127.0.0.1:8081/bot"),
        ("http://127.0.0.1:8081/bot", "http://127.0.0.1:8081/bot"),
        (" http://127.0.0.1:8081/bot/ ", "http://127.0.0.1:8081/bot"),
        ("https://example.org/telegram/", "https://example.org/telegram/bot"),
    ],
)
def test_bot_api_url_forms_normalise(url: str, expected: str) -> None:
    assert normalise_api_url(url) == expected


def test_a_url_without_scheme_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="not an http"):
        normalise_api_url("127.0.0.1:8081")


@pytest.mark.parametrize("suffix", ["", "/", "/bot", "/bot/"])
def test_every_bot_api_url_form_reaches_the_fake_server(api, make_runner, suffix: str) -> None:
    root = api.base_url.removesuffix("/bot")
    make_runner(bot_api_url=root + suffix)
    api.add_text_message(CHAT, USER, "/help")
    api.wait_for("sendMessage", timeout=30)


def test_wrong_path_and_wrong_port_say_which_part_is_wrong(api, make_runner) -> None:
    root = api.base_url.removesuffix("/bot")
    wrong_path = make_runner(start=False, bot_api_url=root + "/telegram")
    wrong_path.start()
    assert wrong_path.wait_for_state("error", timeout=30)
    assert "check the path" in wrong_path.status.message

    wrong_port = make_runner(start=False, bot_api_url="http://127.0.0.1:9")
    wrong_port.start()
    assert wrong_port.wait_for_state("error", timeout=30)
    assert "host and port" in wrong_port.status.message


def test_the_command_menu_is_set_at_start(api, make_runner) -> None:
    make_runner()
    assert [(c["command"], c["description"]) for c in api.commands] == list(COMMANDS)


def test_a_burst_of_25_photos_all_get_answers_in_order(api, make_runner) -> None:
    # 2 a second after the first 10: limited even where a loaded machine stretches the burst to 7 s.
    runner = make_runner(flood_burst=10, flood_per_minute=120.0)
    data = photo_bytes("n02123045_tabby.JPEG")
    started = time.monotonic()
    ids = []
    for _ in range(25):
        ids.append(api.add_photo_message(CHAT, USER, data))
        time.sleep(0.08)  # 25 photos in two seconds
    api.add_text_message(CHAT, USER, "/help")  # text is answered at once, never counted
    answers = api.wait_for(
        "sendMessage", count=25, timeout=60, predicate=lambda p: p["text"].startswith("#")
    )
    elapsed = time.monotonic() - started

    warnings = [t for t in texts(api) if t.startswith(SLOW_DOWN[:30])]
    assert warnings == [SLOW_DOWN.format(every="0.5 s")]
    assert sorted(a["reply_parameters"]["message_id"] for a in answers) == ids
    assert runner.counts.limited > 0
    assert elapsed < 30


def test_a_stop_does_not_wait_for_queued_photos(api, make_runner) -> None:
    runner = make_runner(flood_burst=1, flood_per_minute=1.0)
    data = photo_bytes("n02123045_tabby.JPEG")
    for _ in range(4):
        api.add_photo_message(CHAT, USER, data)
    api.wait_for("sendMessage", count=2, timeout=30)  # the first answer and "slow down"
    started = time.monotonic()
    assert runner.stop(wait=True, timeout=10)
    assert time.monotonic() - started < 3.0
    assert texts(api).count(STOPPING) == 1, "told once, not once per photo"


def test_two_albums_of_ten_in_a_row_get_one_reply_each(api, make_runner, tagger) -> None:
    make_runner(flood_burst=10, flood_per_minute=600.0)
    names = ["n02123045_tabby.JPEG", "n04285008_sports_car.JPEG", "n07873807_pizza.JPEG"]
    photos = [photo_bytes(names[i % 3]) for i in range(10)]
    firsts = []
    for album in ("a1", "a2"):
        ids = [api.add_photo_message(CHAT, USER, d, media_group_id=album) for d in photos]
        firsts.append(ids[0])
    replies = api.wait_for(
        "sendMessage", count=2, timeout=60, predicate=lambda p: p["text"].startswith("1. ")
    )

    assert sorted(r["reply_parameters"]["message_id"] for r in replies) == firsts
    for reply in replies:
        lines = reply["text"].splitlines()
        assert [line.split(".")[0] for line in lines[:10]] == [str(n) for n in range(1, 11)]
        assert all(line.split(" ", 1)[1].startswith("#") for line in lines[:10]), lines


def test_settings_survive_a_restart(api, make_runner) -> None:
    first = make_runner()
    api.add_text_message(CHAT, USER, "/settings")
    [menu] = api.wait_for("sendMessage", timeout=30)
    message_id = api.messages(CHAT)[-1]["message_id"]
    assert "at most 8 tags" in menu["text"]
    api.add_callback_query(CHAT, USER, message_id, "s:k:3")
    api.add_callback_query(CHAT, USER, message_id, "s:h:snake")
    api.wait_for("editMessageText", count=2, timeout=30)
    first.close()

    make_runner()  # a new runner: nothing in memory, only the store
    api.add_text_message(CHAT, USER, "/settings")
    menus = api.wait_for("sendMessage", count=2, timeout=30)
    assert "at most 3 tags" in menus[-1]["text"] and "#golden_retriever" in menus[-1]["text"]
    api.add_photo_message(CHAT, USER, photo_bytes("n02099601_golden_retriever.JPEG"))
    [reply] = api.wait_for("sendMessage", timeout=30, predicate=lambda p: p["text"].startswith("#"))
    assert len(reply["text"].split()) <= 3 and "#golden_retriever" in reply["text"].split()


def test_a_second_copy_on_the_same_token_says_so(api, make_runner) -> None:
    make_runner()
    second = make_runner(start=False)
    second.start()
    assert second.wait_for_state("error", timeout=30)
    assert "already running on this computer" in second.status.message
    assert len(api.calls("getMe")) == 1, "the second copy never asked Telegram"


def test_409_conflict_stops_the_bot_with_one_clear_line(api, make_runner) -> None:
    runner = make_runner()
    api.conflict()
    assert runner.wait_for_state("error", timeout=30)
    assert "same token (409 Conflict)" in runner.status.message
    assert runner.stop(wait=True, timeout=10), "it stopped polling rather than fighting"


def test_a_file_telegram_cannot_deliver_gets_plain_words(api, make_runner) -> None:
    make_runner()
    api.lose_files()
    api.add_photo_message(CHAT, USER, photo_bytes("n02123045_tabby.JPEG"))
    api.lose_files()
    [reply] = api.wait_for("sendMessage", timeout=30)
    assert reply["text"] == TELEGRAM_FAILED


def test_flood_gate_queues_photos_in_turns_and_warns_once() -> None:
    now = [0.0]
    gate = FloodGate(burst=2, per_minute=60.0, clock=lambda: now[0])
    turns = [gate.reserve(1) for _ in range(5)]
    assert [t.wait for t in turns] == [0.0, 0.0, 1.0, 2.0, 3.0]
    assert [t.warn for t in turns] == [False, False, True, False, False]
    assert gate.reserve(2).wait == 0.0, "another user is not held up"
    now[0] = 10.0
    assert gate.reserve(1).wait == 0.0
    now[0] = 10.5
    assert gate.reserve(1).wait == 0.0
    late = gate.reserve(1)
    assert late.warn and late.wait == pytest.approx(0.5), "a new flood is told again"
    small = FloodGate(burst=1, per_minute=60.0, max_wait=2.0, clock=lambda: 0.0)
    assert [small.reserve(1).refused for _ in range(4)] == [False, False, False, True]


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc for child processes")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signals_stop_phototagger_bot_within_3_s(
    api, tagger, tmp_path, tmp_path_factory, signum
) -> None:
    home = tmp_path / "home"
    (home / "cache").mkdir(parents=True)
    # The session's ONNX export (the tagger fixture made it), so the bot starts in seconds.
    (home / "cache" / "onnx").symlink_to(tmp_path_factory.getbasetemp() / "shared-cache" / "onnx")
    env = {
        **os.environ,
        "PHOTOTAGGER_HOME": str(home),
        "PHOTOTAGGER_BOT_TOKEN": TOKEN,
        "PHOTOTAGGER_BOT_API_URL": api.base_url.removesuffix("/bot"),
        "PHOTOTAGGER_BOT_ALLOWED_USERS": str(USER),
        "PHOTOTAGGER_DETECT_FACES": "false",
        "PHOTOTAGGER_DEVICE": "cpu",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "core.cli", "bot"],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = []
        for line in process.stderr:
            lines.append(line)
            if "bot: running" in line or "bot: error" in line:
                break
        assert "bot: running" in lines[-1], "".join(lines)
        api.add_text_message(CHAT, USER, "/help")
        api.wait_for("sendMessage", timeout=30)
        assert _children(process.pid) == [], "the bot is this process, not a child of it"
        started = time.monotonic()
        process.send_signal(signum)
        assert process.wait(timeout=10) == 0
        assert time.monotonic() - started < 3.0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_reply_reads_one_tag_state_vocabulary() -> None:
    from bot.config import ChatPrefs
    from bot.handlers import parse_vote, render_reply, vote_data
    from core.store import Decision, TagState

    states = {"dog": TagState.ACCEPTED, "cat": TagState.REJECTED, "red fox": TagState.ADDED}
    text, markup = render_reply(
        7, ["dog", "cat", "red fox", "owl"], states, ChatPrefs(8, 0.2, "joined")
    )
    assert text.split() == ["#dog", "#redfox", "#owl"]
    buttons = [[b.text for b in row] for row in markup.inline_keyboard]
    assert [row[0].startswith("✅") for row in buttons] == [True, False, True, False]
    assert [row[1] for row in buttons] == ["👎", "❌", "👎", "👎"]
    assert parse_vote(vote_data(7, "dog", Decision.REJECT)) == (7, "dog", Decision.REJECT)
    assert TagState.after(Decision.ACCEPT) is TagState.ACCEPTED
    assert TagState.after(Decision.REMOVE) is None
