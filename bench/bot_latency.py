"""Bot latency: from a Telegram update to the bot's reply, against the fake Bot API, on the CPU.

In one run, with the real python-telegram-bot client and BotRunner pointed at
``tests/bot/fake_telegram.py`` on 127.0.0.1:

- a typical Telegram photo (1280 px long side, JPEG q87, sent as a photo) and
  a 12 MP camera JPEG (sent as a file, as uncompressed photos arrive): p50/p95
  of update-to-reply over N messages, one at a time;
- the engine alone on the same bytes (decode + tag), so the bot's own overhead
  (polling, download, store, reply) reads as a difference;
- throughput with several chats sending at once;
- a burst: one person sends 25 photos in two seconds to a bot with the default
  flood settings (10 at once, then 30 a minute); every photo is answered, and
  the time to the last answer is set by the rate (15 queued photos x 2 s = 30 s).

The clock starts when the update is queued on the fake server (after the fake
made its thumbnails) and stops when the fake has recorded the reply.
Targets on the CPU: p50 < 0.5 s for the 1280 px photo, < 1 s for the 12 MP file.

Usage: python bench/bot_latency.py [--messages 50] [--chats 4] [--burst 25]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from _common import shared
from PIL import Image

TOKEN = "123456:AAH-BenchSecretPart_0123456789abcdefghijk"
USER = 4242


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "p50_s": round(percentile(values, 50), 4),
        "p95_s": round(percentile(values, 95), 4),
        "mean_s": round(statistics.fmean(values), 4),
        "n": len(values),
    }


def telegram_photo(camera_jpeg: bytes) -> bytes:
    """What Telegram makes of a camera photo sent compressed: 1280 px long side, about q87."""
    image = Image.open(io.BytesIO(camera_jpeg)).convert("RGB")
    image.thumbnail((1280, 1280), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=87)
    return out.getvalue()


def time_replies(api, send, count: int) -> list[float]:
    times = []
    for _ in range(count):
        send()
        started = time.perf_counter()
        api.wait_for("sendMessage", count=len(api.calls("sendMessage")) + 1, timeout=60)
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=50)
    parser.add_argument("--chats", type=int, default=4)
    parser.add_argument("--burst", type=int, default=25, help="Photos in the 2 s burst.")
    args = parser.parse_args()
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    os.environ.setdefault("no_proxy", "127.0.0.1,localhost")

    from bot.runner import BotRunner
    from core.engine.imaging import decode_photo
    from core.engine.pipeline import Tagger
    from core.settings import Settings, cache_dir
    from tests.bot.fake_telegram import FakeBotApi

    camera = shared(
        "decode-bench", "immich-test-assets", "albums", "text", "book-beside-flowers.jpg"
    )
    big = camera.read_bytes()
    small = telegram_photo(big)
    tagger = Tagger.open("efficientnet-lite0", device="cpu", cache_dir=cache_dir() / "onnx")

    def engine(data: bytes) -> None:
        decoded = decode_photo(data, min_short_side=tagger.decode_short_side)
        tagger.tag_image(decoded.image)

    engine(small)  # warm the ONNX session
    engine_times = {}
    for name, data in (("photo_1280px", small), ("file_12mp", big)):
        runs = []
        for _ in range(min(args.messages, 20)):
            started = time.perf_counter()
            engine(data)
            runs.append(time.perf_counter() - started)
        engine_times[name] = summary(runs)

    chats = [USER + i for i in range(args.chats)]
    with tempfile.TemporaryDirectory() as tmp, FakeBotApi(token=TOKEN) as api:
        settings = Settings(
            bot_api_url=api.base_url, bot_allowed_users=",".join(str(c) for c in chats)
        )
        runner = BotRunner(
            settings,
            token=TOKEN,
            database=Path(tmp) / "bench.db",
            tagger_factory=lambda config: tagger,
            flood_burst=100_000,
            poll_timeout=5.0,
        )
        runner.start()
        assert runner.wait_for_state("running", "error", timeout=60), runner.status
        assert runner.state == "running", runner.status.message

        time_replies(api, lambda: api.add_photo_message(USER, USER, small), 3)  # warm-up
        photo = time_replies(api, lambda: api.add_photo_message(USER, USER, small), args.messages)
        document = time_replies(
            api,
            lambda: api.add_document_message(
                USER, USER, big, file_name="camera.jpg", mime_type="image/jpeg"
            ),
            args.messages,
        )

        per_chat = max(1, args.messages // args.chats)
        before = len(api.calls("sendMessage"))
        started = time.perf_counter()
        for _ in range(per_chat):
            for chat in chats:
                api.add_photo_message(chat, chat, small)
        total = per_chat * len(chats)
        api.wait_for("sendMessage", count=before + total, timeout=300)
        elapsed = time.perf_counter() - started
        answered = runner.counts.answered
        runner.close()

        burst = BotRunner(
            settings,
            token=TOKEN,
            database=Path(tmp) / "bench.db",
            tagger_factory=lambda config: tagger,
            poll_timeout=5.0,
        )
        burst.start()
        assert burst.wait_for_state("running", "error", timeout=60), burst.status
        config = burst._config()
        chat = chats[-1]
        before = len([p for p in api.calls("sendMessage") if p["text"].startswith("#")])
        started = time.perf_counter()
        for _ in range(args.burst):
            api.add_photo_message(chat, chat, small)
            time.sleep(2.0 / args.burst)
        answers = api.wait_for(
            "sendMessage",
            count=before + args.burst,
            timeout=600,
            predicate=lambda p: p["text"].startswith("#"),
        )
        burst_last = time.perf_counter() - started
        burst_answered = len(answers) - before
        burst.close()

    result = {
        "benchmark": "bot_latency",
        "device": "cpu",
        "runtime": tagger.runtime.name,
        "backbone": tagger.spec.name,
        "cpus": os.cpu_count(),
        "photo_1280px": {
            "bytes": len(small),
            "bot": summary(photo),
            "engine_only": engine_times["photo_1280px"],
            "target_p50_s": 0.5,
            "meets_target": percentile(photo, 50) < 0.5,
        },
        "file_12mp": {
            "bytes": len(big),
            "megapixels": round(Image.open(camera).width * Image.open(camera).height / 1e6, 1),
            "bot": summary(document),
            "engine_only": engine_times["file_12mp"],
            "target_p50_s": 1.0,
            "meets_target": percentile(document, 50) < 1.0,
        },
        "concurrent": {
            "chats": len(chats),
            "photos": total,
            "seconds": round(elapsed, 3),
            "photos_per_s": round(total / elapsed, 2),
            "sequential_photos_per_s": round(1 / statistics.fmean(photo), 2),
        },
        "answered": answered,
        "burst": {
            "photos": args.burst,
            "sent_within_s": 2.0,
            "flood_burst": config.flood_burst,
            "flood_per_minute": config.flood_per_minute,
            "answered": burst_answered,
            "seconds_to_last_answer": round(burst_last, 2),
            "floor_by_rate_s": round(
                max(0, args.burst - config.flood_burst) * 60 / config.flood_per_minute, 1
            ),
        },
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
