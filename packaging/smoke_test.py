"""Smoke-test a built ``dist/PhotoTagger/``: version, offline CPU tagging parity, GUI, bot.

Run from the repository root after ``python packaging/build.py``::

    python packaging/smoke_test.py [dist/PhotoTagger] [--photos DIR]

Checks, each printed as one ``PASS``/``FAIL`` line:

1. ``phototagger --version`` answers the version pyproject.toml declares, and
   ``phototagger backbones`` says the default backbone runs from the bundle.
2. The bundle has no torch in it, and tags the shared photos to CSV on the CPU
   with every proxy pointed at a dead port (offline); the top tags of every
   photo equal what the source tree with its installed dependencies gives.
   ``export --embed`` writes keywords into a photo (through the bundled lxml), read back with pyexiv2.
3. The GUI starts offscreen on that folder, saves a screenshot and quits with
   exit code 0 through its own close handling.
4. If the bot has landed: ``phototagger bot`` starts against the fake Bot API
   server, answers a photo with hashtags, and stops cleanly on SIGTERM.

It takes a minute or two, so CI runs it only when asked (``PHOTOTAGGER_BUILD_APP=1``).
"""

from __future__ import annotations

import argparse
import csv
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PHOTOS = ROOT.parent / "shared" / "data" / "coco-mini" / "val2017"
BOT_TOKEN = "123456:AAH-SmokeTestSecret_0123456789abcdefghij"
BOT_USER = 4242
DEAD_PROXY = "http://127.0.0.1:9"


@dataclass
class Outcome:
    name: str
    ok: bool
    detail: str
    seconds: float


def read_csv_tags(path: Path) -> tuple[dict[str, list[str]], dict[str, dict[str, float]]]:
    """Per photo: its hashtags in order, and its tag scores, from a ``phototagger tag --csv`` file."""
    hashtags: dict[str, list[str]] = {}
    scores: dict[str, dict[str, float]] = {}
    with open(path, encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            hashtags[row["location"]] = row["hashtags"].split()
            # "tag:0.434", or "tag:0.184 (low confidence)" for a photo that cleared no threshold.
            pairs = (item.rpartition(":") for item in row["tags"].split("; ") if item)
            scores[row["location"]] = {tag: float(score.split()[0]) for tag, _, score in pairs}
    return hashtags, scores


def top_tag_mismatches(
    ours: dict[str, list[str]], reference: dict[str, list[str]], *, top: int
) -> list[str]:
    """Photos whose first ``top`` hashtags differ, or that only one side has, one line each."""
    problems = []
    for location in sorted(ours.keys() | reference.keys()):
        if location not in ours or location not in reference:
            side = "bundle" if location in ours else "reference"
            problems.append(f"{location}: only the {side} has it")
        elif ours[location][:top] != reference[location][:top]:
            problems.append(
                f"{location}: bundle {ours[location][:top]} != reference {reference[location][:top]}"
            )
    return problems


def max_score_difference(
    ours: dict[str, dict[str, float]], reference: dict[str, dict[str, float]]
) -> float:
    diffs = [
        abs(score - reference[loc][tag])
        for loc, tags in ours.items()
        for tag, score in tags.items()
        if tag in reference.get(loc, {})
    ]
    return max(diffs, default=0.0)


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """This environment without PHOTOTAGGER_* settings, with its own PHOTOTAGGER_HOME."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHOTOTAGGER_")}
    env.update(PHOTOTAGGER_HOME=str(home), NO_PROXY="127.0.0.1,localhost", **extra)
    env["no_proxy"] = env["NO_PROXY"]
    return env


def offline_env(home: Path, **extra: str) -> dict[str, str]:
    """Every proxy aimed at a closed port, so any attempt to reach the internet fails."""
    proxies = {k: DEAD_PROXY for k in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")}
    proxies.update({k.lower(): DEAD_PROXY for k in proxies})
    return clean_env(home, HF_HUB_OFFLINE="1", **proxies, **extra)


def run(
    cmd: list[str], *, env: dict[str, str], timeout: float = 300
) -> subprocess.CompletedProcess:
    return subprocess.run(
        cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )


def tail(text: str, lines: int = 6) -> str:
    return " | ".join(text.strip().splitlines()[-lines:])


class SmokeTest:
    """The checks, sharing the app's paths and a scratch folder."""

    def __init__(self, app: Path, photos: Path, out: Path, reference_python: str, top: int):
        sys.path.insert(0, str(ROOT / "packaging"))
        import layout

        self.layout = layout
        self.app = app
        self.cli = app / layout.cli_exe_name(sys.platform)
        self.gui = app / layout.GUI_EXE
        self.photos = photos
        self.out = out
        self.reference_python = reference_python
        self.top = top
        self.scratch = Path(tempfile.mkdtemp(prefix="phototagger-smoke-"))
        self.outcomes: list[Outcome] = []

    def check(self, name: str, func: Callable[[], str]) -> bool:
        started = time.monotonic()
        try:
            detail, ok = func(), True
        except AssertionError as exc:
            detail, ok = str(exc), False
        except Exception as exc:  # a smoke test reports, it does not crash
            detail, ok = f"{type(exc).__name__}: {exc}", False
        outcome = Outcome(name, ok, detail, time.monotonic() - started)
        self.outcomes.append(outcome)
        print(f"{'PASS' if ok else 'FAIL'} {name} ({outcome.seconds:.1f}s): {detail}", flush=True)
        return ok

    def version(self) -> str:
        expected = self.layout.project_version(ROOT / "pyproject.toml")
        done = run([str(self.cli), "--version"], env=offline_env(self.scratch / "v"))
        assert done.returncode == 0, f"exit {done.returncode}: {tail(done.stderr)}"
        assert expected in done.stdout, f"{done.stdout.strip()!r} lacks {expected}"
        listed = run([str(self.cli), "backbones"], env=offline_env(self.scratch / "v"))
        default = next((ln for ln in listed.stdout.splitlines() if "(default)" in ln), "")
        assert "available (bundled export)" in default, f"backbones says: {default!r}"
        return f"{done.stdout.strip()}; {' '.join(default.split())}"

    def lean(self) -> str:
        internal = self.app / "_internal"
        found = [
            n
            for n in ("torch", "torchvision", "timm", "triton", "sympy")
            if (internal / n).exists()
        ]
        assert not found, f"the CPU build carries {found}"
        size = sum(
            p.stat().st_size for p in self.app.rglob("*") if p.is_file() and not p.is_symlink()
        )
        return f"no torch/timm/triton/sympy; {size / 1e6:.0f} MB in {self.app}"

    def tagging_parity(self) -> str:
        bundle_csv, reference_csv = self.out / "bundle.csv", self.out / "reference.csv"
        args = ["tag", str(self.photos), "--device", "cpu", "--csv"]
        started = time.monotonic()
        ours = run([str(self.cli), *args, str(bundle_csv)], env=offline_env(self.scratch / "b"))
        bundle_s = time.monotonic() - started
        assert ours.returncode == 0, f"bundle exit {ours.returncode}: {tail(ours.stderr)}"
        reference = run(
            [self.reference_python, "-m", "core.cli", *args, str(reference_csv)],
            env=clean_env(self.scratch / "r", PYTHONPATH=str(ROOT)),
        )
        assert reference.returncode == 0, (
            f"reference exit {reference.returncode}: {tail(reference.stderr)}"
        )
        our_tags, our_scores = read_csv_tags(bundle_csv)
        ref_tags, ref_scores = read_csv_tags(reference_csv)
        assert our_tags, "the bundle tagged no photos"
        problems = top_tag_mismatches(our_tags, ref_tags, top=self.top)
        assert not problems, f"{len(problems)} photos differ: " + "; ".join(problems[:5])
        diff = max_score_difference(our_scores, ref_scores)
        summary = tail(ours.stderr, 1)
        return (
            f"{len(our_tags)} photos, top-{self.top} tags identical to the source install, "
            f"max score difference {diff:.4f}; bundle run {bundle_s:.1f}s ({summary})"
        )

    def embedded_keywords(self) -> str:
        """Keywords written into a photo by the bundle (lxml, a native extension it must load)."""
        import shutil

        folder = self.scratch / "embed"
        folder.mkdir(exist_ok=True)
        photo = folder / "photo.jpg"
        shutil.copyfile(next(iter(sorted(self.photos.glob("*.jpg")))), photo)
        env = offline_env(self.scratch / "e")
        tagged = run([str(self.cli), "tag", str(folder), "--device", "cpu"], env=env)
        assert tagged.returncode == 0, f"tag exit {tagged.returncode}: {tail(tagged.stderr)}"
        # Nothing is confirmed here, so the suggestions are asked for explicitly.
        export = ["export", "--out", str(folder / "x.csv"), "--under", str(folder), "--embed"]
        export += ["--scope", "suggested", "--min-score", "0"]
        done = run([str(self.cli), *export], env=env)
        assert done.returncode == 0, f"export exit {done.returncode}: {tail(done.stderr)}"
        import pyexiv2

        with pyexiv2.Image(str(photo)) as image:
            keywords = image.read_xmp().get("Xmp.dc.subject") or []
        assert keywords, "no XMP keywords in the photo after --embed"
        return f"XMP dc:subject now {keywords}"

    def gui_screenshot(self) -> str:
        shot = self.out / "gui.png"
        shot.unlink(missing_ok=True)
        env = offline_env(
            self.scratch / "g",
            QT_QPA_PLATFORM="offscreen",
            PHOTOTAGGER_SMOKE_SCREENSHOT=str(shot),
            PHOTOTAGGER_SMOKE_DELAY_MS="8000",
        )
        started = time.monotonic()
        done = run([str(self.gui), str(self.photos)], env=env, timeout=180)
        elapsed = time.monotonic() - started
        assert done.returncode == 0, f"exit {done.returncode}: {tail(done.stderr)}"
        assert "Traceback" not in done.stderr, tail(done.stderr, 12)
        assert shot.is_file() and shot.stat().st_size > 5000, f"no screenshot at {shot}"
        from PIL import Image

        with Image.open(shot) as img:
            size = img.size
        return f"screenshot {shot} {size[0]}x{size[1]}, exit 0 after {elapsed:.1f}s"

    def bot(self) -> str:
        sys.path.insert(0, str(ROOT))
        from tests.bot.fake_telegram import FakeBotApi

        photo = ROOT.parent / "shared" / "data" / "imagenet-sample" / "n02123045_tabby.JPEG"
        if not photo.is_file():
            photo = next(iter(sorted(self.photos.glob("*.jpg"))))
        with FakeBotApi(token=BOT_TOKEN) as api:
            env = offline_env(
                self.scratch / "t",
                PHOTOTAGGER_BOT_TOKEN=BOT_TOKEN,
                PHOTOTAGGER_BOT_API_URL=api.base_url,
                PHOTOTAGGER_BOT_ALLOWED_USERS=str(BOT_USER),
            )
            proc = subprocess.Popen(
                [str(self.cli), "bot"], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, text=True,
            )  # fmt: skip
            try:
                # The update queues until the bot polls; a parked long poll is not yet a call.
                api.wait_for("getMe", timeout=60)
                api.add_photo_message(BOT_USER, BOT_USER, photo.read_bytes())
                answers = api.wait_for(
                    "sendMessage", timeout=120, predicate=lambda p: "#" in str(p.get("text", ""))
                )
                proc.send_signal(signal.SIGTERM)
                output, _ = proc.communicate(timeout=30)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.communicate()
        assert proc.returncode == 0, f"exit {proc.returncode}: {tail(output)}"
        assert BOT_TOKEN.split(":")[1] not in output, "the token reached the output"
        hashtags = " ".join(w for w in str(answers[0]["text"]).split() if w.startswith("#"))
        return f"answered {photo.name} with {hashtags[:80]!r}; stopped on SIGTERM with exit 0"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("app", nargs="?", type=Path, default=ROOT / "dist" / "PhotoTagger")
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS)
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "smoke")
    parser.add_argument(
        "--reference-python", default=sys.executable, help="Interpreter with the installed deps."
    )
    parser.add_argument("--top", type=int, default=3, help="How many top tags must match.")
    parser.add_argument("--skip-gui", action="store_true")
    parser.add_argument("--skip-bot", action="store_true")
    args = parser.parse_args(argv)
    if not args.photos.is_dir():
        print(f"smoke test: no photos at {args.photos} (clone ../shared beside the project)")
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    smoke = SmokeTest(
        args.app.resolve(),
        args.photos.resolve(),
        args.out.resolve(),
        args.reference_python,
        args.top,
    )
    started = time.monotonic()
    smoke.check("version", smoke.version)
    smoke.check("lean", smoke.lean)
    smoke.check("tag-parity", smoke.tagging_parity)
    smoke.check("embed", smoke.embedded_keywords)
    if not args.skip_gui:
        smoke.check("gui", smoke.gui_screenshot)
    if args.skip_bot:
        pass
    elif (ROOT / "bot" / "__main__.py").is_file() and (
        ROOT / "tests" / "bot" / "fake_telegram.py"
    ).is_file():
        smoke.check("bot", smoke.bot)
    else:
        print("SKIP bot: bot/ has not landed")
    failed = [o.name for o in smoke.outcomes if not o.ok]
    print(
        f"{len(smoke.outcomes) - len(failed)}/{len(smoke.outcomes)} passed in "
        f"{time.monotonic() - started:.0f}s" + (f"; failed: {', '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
