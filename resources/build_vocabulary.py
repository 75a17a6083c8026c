"""Check the reviewed tag tables and compile them to resources/vocabulary.json.

Two tables in ``resources/`` are the vocabulary, kept as CSV so that a change
reads as a diff:

- ``photo_tags.csv``: one row per backbone class, in timm's ImageNet-1k order:
  ``index, wnid, imagenet_name, everyday, fine_grained, reason``. ``everyday``
  holds the everyday tags the class counts towards (``;``-separated, the most
  specific ones: parents come from the rules); ``fine_grained`` the secondary
  tag (empty where the everyday word says it all, as ``phone`` for a cellular
  telephone); ``reason`` says why a class counts towards no everyday tag.
- ``tag_rules.csv``: one row per everyday or general tag, like a photo
  manager's label rules: ``tag, parents, threshold, priority, general, note``.
  Parents make the hierarchy for hierarchical keywords (the first parent is the
  path); an empty threshold or priority takes the default below; a general tag
  (``general`` = yes) is shown only when none of the tags below it is.

This script checks them against WordNet (every wnid known, names are WordNet
lemmas) and timm's class order, and writes the JSON the package loads. With
``--suggest`` it lists, for each class that maps to nothing, the tags whose
names are lemmas of the class's WordNet ancestors: a starting point for review,
not a mapping (WordNet files a bus under container, which no one would tag).

Run from the project root: ``python resources/build_vocabulary.py [WORDNET_DIR]``
(default ``../shared/data/wordnet``). WordNet 3.0, Princeton WordNet licence.
"""

from __future__ import annotations

import argparse
import csv
import json
from collections import defaultdict
from importlib import resources
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_THRESHOLD = 0.2
"""A tag's threshold when its rule leaves it empty (the app's default threshold)."""
DEFAULT_PRIORITY = 50
"""A tag's priority when its rule leaves it empty; fine-grained tags rank below (10)."""

# Classes whose WordNet lemmas clash; their ImageNet name is written out here.
RENAMED = {
    "n03126707": "construction crane",  # WordNet says "crane2"
    "n02963159": "cardigan sweater",  # "Cardigan" is also a corgi class
}


class TableError(ValueError):
    """A reviewed table breaks a rule; the message names the row."""


def read_words(path: Path) -> dict[str, list[str]]:
    words = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        wnid, _, lemmas = line.partition("\t")
        words[wnid] = [lemma.strip() for lemma in lemmas.split(",") if lemma.strip()]
    return words


def read_parents(path: Path) -> dict[str, set[str]]:
    parents: dict[str, set[str]] = defaultdict(set)
    for line in path.read_text(encoding="utf-8").splitlines():
        parent, child = line.split()
        parents[child].add(parent)
    return parents


def ancestors(wnid: str, parents: dict[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    stack = [wnid]
    while stack:
        for parent in parents.get(stack.pop(), ()):
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return seen


def imagenet_wnids() -> list[str]:
    """The 1000 ImageNet-1k synsets in timm's (sorted) class order."""
    text = resources.files("timm.data._info").joinpath("imagenet_synsets.txt").read_text()
    return [line.strip() for line in text.splitlines() if line.strip()]


def _split(cell: str) -> list[str]:
    return [part.strip() for part in cell.split(";") if part.strip()]


def read_rules(path: Path) -> dict[str, dict]:
    """The tag rules by tag, defaults filled in; checks parents and cycles."""
    rules: dict[str, dict] = {}
    with path.open(newline="", encoding="utf-8") as fh:
        for line, row in enumerate(csv.DictReader(fh), start=2):
            tag = row["tag"].strip()
            if not tag or tag.lower() in {t.lower() for t in rules}:
                raise TableError(f"{path.name}:{line}: empty or repeated tag {tag!r}")
            if row["general"] not in ("yes", "no"):
                raise TableError(f"{path.name}:{line}: general must be yes or no")
            threshold = float(row["threshold"] or DEFAULT_THRESHOLD)
            if not 0.0 < threshold <= 1.0:
                raise TableError(f"{path.name}:{line}: threshold {threshold} outside (0, 1]")
            rules[tag] = {
                "tag": tag,
                "parents": _split(row["parents"]),
                "threshold": threshold,
                "priority": int(row["priority"] or DEFAULT_PRIORITY),
                "general": row["general"] == "yes",
            }
    for rule in rules.values():
        for parent in rule["parents"]:
            if parent not in rules:
                raise TableError(f"{path.name}: {rule['tag']!r} has unknown parent {parent!r}")
    for tag in rules:
        if tag in tag_ancestors(tag, rules):
            raise TableError(f"{path.name}: {tag!r} is its own ancestor")
    return rules


def tag_ancestors(tag: str, rules: dict[str, dict]) -> set[str]:
    seen: set[str] = set()
    stack = list(rules[tag]["parents"])
    while stack:
        parent = stack.pop()
        if parent not in seen:
            seen.add(parent)
            if parent != tag:
                stack.extend(rules[parent]["parents"])
    return seen


def read_classes(
    path: Path, rules: dict[str, dict], wnids: list[str], words: dict[str, list[str]]
) -> list[dict]:
    """The class rows, checked against timm's order, WordNet's lemmas and the rules."""
    rule_names = {t.lower() for t in rules}
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if len(rows) != len(wnids):
        raise TableError(f"{path.name}: {len(rows)} rows for {len(wnids)} backbone classes")
    classes, names = [], set()
    for line, (row, wnid) in enumerate(zip(rows, wnids, strict=True), start=2):
        where = f"{path.name}:{line}"
        if int(row["index"]) != line - 2 or row["wnid"] != wnid:
            raise TableError(f"{where}: expected class {line - 2} {wnid}, found {row['wnid']}")
        name = row["imagenet_name"]
        lemmas = [RENAMED[wnid]] if wnid in RENAMED else words[wnid]
        if name not in lemmas or name.lower() in names:
            raise TableError(f"{where}: {name!r} is not a unique WordNet lemma of {wnid}")
        names.add(name.lower())
        everyday = _split(row["everyday"])
        for tag in everyday:
            if tag not in rules:
                raise TableError(f"{where}: everyday tag {tag!r} has no rule in tag_rules.csv")
            if tag_ancestors(tag, rules) & set(everyday):
                raise TableError(f"{where}: {tag!r} listed with its own parent; keep the child")
        if not everyday and not row["reason"].strip():
            raise TableError(f"{where}: {name!r} maps to no everyday tag and gives no reason")
        fine = row["fine_grained"].strip()
        if fine.lower() in rule_names:
            raise TableError(f"{where}: fine-grained {fine!r} is an everyday tag; leave it empty")
        classes.append({"wnid": wnid, "name": name, "everyday": everyday, "fine": fine})
    return classes


def build(wordnet: Path, tables: Path = HERE) -> dict:
    words = read_words(wordnet / "words.txt")
    rules = read_rules(tables / "tag_rules.csv")
    classes = read_classes(tables / "photo_tags.csv", rules, imagenet_wnids(), words)
    return {
        "source": (
            "resources/photo_tags.csv and tag_rules.csv (reviewed), ImageNet-1k in timm's"
            " class order, names from WordNet 3.0 (Princeton WordNet licence)"
        ),
        "default_threshold": DEFAULT_THRESHOLD,
        "classes": classes,
        "tags": list(rules.values()),
    }


def suggest(wordnet: Path, tables: Path = HERE) -> list[str]:
    """For classes mapped to nothing: tags named like one of their WordNet ancestors."""
    words = read_words(wordnet / "words.txt")
    parents = read_parents(wordnet / "is_a.txt")
    rules = read_rules(tables / "tag_rules.csv")
    by_lemma = {tag.lower(): tag for tag in rules}
    lines = []
    with (tables / "photo_tags.csv").open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["everyday"].strip():
                continue
            found = {
                by_lemma[lemma.lower()]
                for a in ancestors(row["wnid"], parents)
                for lemma in words.get(a, ())
                if lemma.lower() in by_lemma
            }
            if found:
                lines.append(f"{row['index']} {row['imagenet_name']}: {'; '.join(sorted(found))}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wordnet", nargs="?", type=Path, default=Path("../shared/data/wordnet"))
    parser.add_argument("--out", type=Path, default=HERE / "vocabulary.json")
    parser.add_argument("--suggest", action="store_true", help="list WordNet hints, write nothing")
    args = parser.parse_args()
    if args.suggest:
        print("\n".join(suggest(args.wordnet)))
        return
    try:
        table = build(args.wordnet)
    except TableError as exc:
        raise SystemExit(str(exc)) from None
    args.out.write_text(json.dumps(table, ensure_ascii=False, separators=(",", ":")) + "\n")
    mapped = sum(bool(c["everyday"]) for c in table["classes"])
    print(
        f"wrote {args.out}: {len(table['classes'])} classes ({mapped} to everyday tags),"
        f" {len(table['tags'])} tags"
    )


if __name__ == "__main__":
    main()
