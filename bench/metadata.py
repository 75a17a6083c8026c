"""Keywords into every JPEG of decode-bench: do all other tags read the same afterwards?

Copies each JPEG to a scratch folder, reads every tag with ``exiftool -j -G1 -a -u``,
merges two keywords (one with an umlaut) into the copy with ``--embed``'s code, reads
again and counts the files whose non-keyword tags changed. A second pass must
write nothing. Prints one JSON object.

    python bench/metadata.py
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import shared

from core.export.metadata import KeywordChange, write_keywords

# Tags PhotoTagger writes, and what exiftool reports about the file itself.
OURS = (
    "System:",
    "ExifTool:",
    "XMP-",
    "File:CurrentIPTCDigest",
    "Photoshop:IPTCDigest",
    "IPTC:Keywords",
    "IPTC:CodedCharacterSet",
    "IPTC:ApplicationRecordVersion",
)


def read_tags(folder: Path) -> dict[str, dict]:
    out = subprocess.run(
        ["exiftool", "-j", "-G1", "-a", "-u", str(folder)], capture_output=True, check=False
    )
    return {Path(d["SourceFile"]).name: d for d in json.loads(out.stdout or b"[]")}


def main() -> None:
    if not shutil.which("exiftool"):
        print(json.dumps({"skipped": "exiftool is not installed"}))
        sys.exit(0)
    source = shared("decode-bench")
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        for i, path in enumerate(sorted(source.rglob("*"))):
            if path.suffix.lower() in (".jpg", ".jpeg"):
                target = folder / f"{i:03d}-{path.name}"
                shutil.copyfile(path, target)
        before = read_tags(folder)
        change = KeywordChange(("dog", "Größe"), (("animal", "dog"), ("Größe",)))
        items = [(p, change) for p in sorted(folder.iterdir())]
        start = time.perf_counter()
        first = write_keywords(items, sidecars=False, embed=True)
        seconds = time.perf_counter() - start
        second = write_keywords(items, sidecars=False, embed=True)
        after = read_tags(folder)
    changed = {}
    for name, tags in before.items():
        diff = sorted(
            k
            for k in tags.keys() | after[name].keys()
            if not k.startswith(OURS) and tags.get(k) != after[name].get(k)
        )
        if diff:
            changed[name] = diff
    print(
        json.dumps(
            {
                "jpegs": len(items),
                "written": first.count("written"),
                "failed": [f"{o.photo.name}: {o.message}" for o in first.failures],
                "files_with_other_tags_changed": changed,
                "second_pass_written": second.count("written"),
                "seconds_per_photo": round(seconds / max(len(items), 1), 4),
            }
        )
    )


if __name__ == "__main__":
    main()
