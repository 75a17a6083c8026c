"""Build resources/vocabulary.json from WordNet and timm's ImageNet class order.

Run from the project root: ``python resources/build_vocabulary.py [WORDNET_DIR]``
(default ``../shared/data/wordnet``). The built table is committed; WordNet's raw
files are not. WordNet 3.0, Princeton WordNet licence (free use with notice).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from importlib import resources
from pathlib import Path

# General tags people use as hashtags, each a WordNet noun synset. A photo's score
# for one is the sum of the probabilities of the ImageNet classes below it.
CONCEPTS: dict[str, str] = {
    "animal": "n00015388",
    "mammal": "n01861778",
    "dog": "n02084071",
    "cat": "n02121808",
    "feline": "n02120997",
    "wolf": "n02114100",
    "fox": "n02118333",
    "bear": "n02131653",
    "primate": "n02469914",
    "monkey": "n02484322",
    "rodent": "n02329401",
    "horse": "n02374451",
    "bird": "n01503061",
    "fish": "n02512053",
    "shark": "n01482330",
    "reptile": "n01661091",
    "snake": "n01726692",
    "lizard": "n01674464",
    "turtle": "n01662784",
    "frog": "n01639765",
    "insect": "n02159955",
    "butterfly": "n02274259",
    "spider": "n01772222",
    "crustacean": "n01974773",
    "vehicle": "n04524313",
    "car": "n02958343",
    "bus": "n02924116",
    "truck": "n04490091",
    "bicycle": "n02834778",
    "motorcycle": "n03790512",
    "train": "n04468005",
    "aircraft": "n02686568",
    "boat": "n04530566",
    "ship": "n04194289",
    "food": "n00021265",
    "fruit": "n13134947",
    "vegetable": "n07707451",
    "dessert": "n07609840",
    "baked goods": "n07622061",
    "drink": "n07881800",
    "mushroom": "n07734744",
    "flower": "n11669921",
    "building": "n02913152",
    "bridge": "n02898711",
    "structure": "n04341686",
    "landscape": "n09287968",
    "furniture": "n03405725",
    "chair": "n03001627",
    "table": "n04379243",
    "lamp": "n03636248",
    "clothing": "n03051540",
    "footwear": "n03380867",
    "hat": "n03502509",
    "bag": "n02773037",
    "instrument": "n03800933",
    "sport": "n04285146",
    "ball": "n02778669",
    "electronics": "n03278248",
    "computer": "n03082979",
    "appliance": "n03528263",
    "kitchen": "n03621049",
    "container": "n03094503",
    "bottle": "n02876657",
    "tool": "n04451818",
    "clock": "n04437953",
    "weapon": "n04565375",
}


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


# Classes whose WordNet lemmas make a poor or clashing tag.
RENAMED = {
    "n03126707": "construction crane",  # WordNet says "crane2"
    "n02963159": "cardigan sweater",  # "Cardigan" is also a corgi class
}


def class_tags(wnids: list[str], words: dict[str, list[str]]) -> list[str]:
    """One readable, unique tag per class: the first lemma not already taken."""
    taken: set[str] = set()
    tags = []
    for wnid in wnids:
        lemmas = [RENAMED[wnid]] if wnid in RENAMED else words[wnid]
        choice = next((lem for lem in lemmas if lem.lower() not in taken), None)
        if choice is None:
            raise SystemExit(f"no unique tag for {wnid} {lemmas}: add it to RENAMED")
        taken.add(choice.lower())
        tags.append(choice)
    return tags


def build(wordnet: Path) -> dict:
    words = read_words(wordnet / "words.txt")
    parents = read_parents(wordnet / "is_a.txt")
    wnids = imagenet_wnids()
    concept_of = {wnid: tag for tag, wnid in CONCEPTS.items()}
    concept_ancestors = {
        tag: sorted(concept_of[a] for a in ancestors(wnid, parents) if a in concept_of)
        for tag, wnid in CONCEPTS.items()
    }

    # A concept's path runs from its most general concept ancestor down to itself.
    def path(tag: str) -> list[str]:
        above = sorted(concept_ancestors[tag], key=lambda t: len(concept_ancestors[t]))
        return [*above, tag]

    classes = []
    for wnid, tag in zip(wnids, class_tags(wnids, words), strict=True):
        above = [concept_of[a] for a in ancestors(wnid, parents) | {wnid} if a in concept_of]
        above.sort(key=lambda t: len(concept_ancestors[t]))
        classes.append({"wnid": wnid, "tag": tag, "concepts": above})
    unused = [tag for tag in CONCEPTS if not any(tag in c["concepts"] for c in classes)]
    if unused:
        raise SystemExit(f"concepts with no ImageNet class below them: {unused}")
    return {
        "source": "WordNet 3.0 (Princeton WordNet licence), ImageNet-1k in timm's class order",
        "classes": classes,
        "concepts": [
            {"tag": tag, "wnid": wnid, "path": path(tag)} for tag, wnid in CONCEPTS.items()
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("wordnet", nargs="?", type=Path, default=Path("../shared/data/wordnet"))
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("vocabulary.json"))
    args = parser.parse_args()
    table = build(args.wordnet)
    args.out.write_text(json.dumps(table, ensure_ascii=False, separators=(",", ":")) + "\n")
    print(f"wrote {args.out}: {len(table['classes'])} classes, {len(table['concepts'])} concepts")


if __name__ == "__main__":
    main()
