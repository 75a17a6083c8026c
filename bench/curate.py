"""Curation: duplicate precision/recall on synthetic copies, clustering and best-of times.

Originals are the first 30 coco-mini and 30 imagenet-sample photos, each with
five edited copies (tests/core/synthetic_copies.py: resized, recompressed at
JPEG q20, cropped 90%, colour-shifted, reframed); negatives are 300 more
distinct photos. Thresholds are calibrated on the coco half (the rule: the
highest cosine between distinct photos plus a 0.05 margin; the hash cut-off
half-way between the copies' largest and the distinct photos' smallest
distance) and precision/recall are reported on the imagenet half, with the
defaults in core.curation.dupes as well. Times: clustering 10,000 x 1280 embeddings
(resampled from the real ones with noise) with k chosen from the data, and
best-of selection for 10,000 photos with 40 judged.

Usage: python bench/curate.py [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from _common import ROOT, shared


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2, help="BLAS threads (2: a laptop)")
    args = parser.parse_args()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import numpy as np

    from core.curation import dupes
    from core.curation.dupes import components, group_duplicates, link_pairs, normalise_rows
    from core.curation.groups import cluster
    from core.curation.highlights import score_photos, select_diverse
    from core.curation.quality import hamming, photo_qualities, technical_scores
    from core.engine.pipeline import Tagger, tag_photos
    from core.engine.sources import collect
    from core.store import Store
    from tests.core.synthetic_copies import write_copies

    coco = sorted(shared("coco-mini").glob("*/*.jpg"))
    inet = sorted(shared("imagenet-sample").glob("*.JPEG"))
    work = Path(tempfile.mkdtemp(prefix="curate-bench-"))
    try:
        write_copies(coco[:30] + inet[:30], work / "album" / "copies")
        for p in coco[30:] + inet[30:330]:
            shutil.copy(p, work / "album" / p.name)
        tagger = Tagger.open("efficientnet-lite0", device="cpu", cache_dir=ROOT / ".cache" / "onnx")
        store = Store(work / "bench.db")
        start = time.perf_counter()
        tag_photos(list(collect([str(work / "album")])), tagger=tagger, store=store)
        tag_s = time.perf_counter() - start
        ids, emb = store.embeddings(backbone="efficientnet-lite0")
        start = time.perf_counter()
        qual = photo_qualities(store, ids, workers=args.threads)
        measure_s = time.perf_counter() - start
        uri = {p.id: p.uri for p in store.photos()}
        source = np.array([Path(uri[p]).stem.partition("__")[0] for p in ids])
        edit = np.array([Path(uri[p]).stem.partition("__")[2] or "original" for p in ids])
        is_coco = np.array([s.isdigit() for s in source])
        unit = normalise_rows(emb)
        hashes = np.array([int(qual[p].dhash, 16) for p in ids], dtype=np.uint64)

        def calibrate(mask: np.ndarray) -> tuple[float, int]:
            rows = np.nonzero(mask)[0]
            sim = unit[rows] @ unit[rows].T
            dist = hamming(hashes[rows][:, None], hashes[rows][None, :])
            same = source[rows][:, None] == source[rows][None, :]
            # Copies the hash is for (not crops or reframes), against their own original.
            is_copy = np.isin(edit[rows], ["resized", "recompressed", "colour"])
            copies = same & is_copy[:, None] & (edit[rows] == "original")[None, :]
            cosine = round(float(sim[~same].max()) + 0.05, 2)
            cut = int((dist[copies].max() + dist[~same].min()) // 2)
            return cosine, cut

        def evaluate(mask: np.ndarray, cosine: float, cut: int) -> dict:
            rows = np.nonzero(mask)[0]
            i, j = link_pairs(unit[rows], hashes[rows], min_cosine=cosine, max_hash_distance=cut)
            label = np.arange(len(rows))
            for members in components(len(rows), i, j):
                label[members] = members[0]
            iu = np.triu_indices(len(rows), 1)
            predicted = (label[:, None] == label[None, :])[iu]
            truth = (source[rows][:, None] == source[rows][None, :])[iu]
            tp = int((predicted & truth).sum())
            per_edit = {}
            for e in ("resized", "recompressed", "cropped", "colour", "reframed"):
                copies = [r for r, x in enumerate(rows) if edit[x] == e]
                orig = {source[x]: r for r, x in enumerate(rows) if edit[x] == "original"}
                found = [label[r] == label[orig[source[rows[r]]]] for r in copies]
                per_edit[e] = round(float(np.mean(found)), 3)
            return {
                "precision": round(tp / max(int(predicted.sum()), 1), 4),
                "recall": round(tp / int(truth.sum()), 4),
                "true_pairs": int(truth.sum()),
                "recall_by_edit": per_edit,
            }

        cosine, cut = calibrate(is_coco)
        groups = group_duplicates(
            [ids[r] for r in np.nonzero(~is_coco)[0]], emb[~is_coco], qualities=qual
        )
        keeper_edit = [Path(uri[g.keeper]).stem.partition("__")[2] or "original" for g in groups]
        duplicates = {
            "photos": len(ids),
            "originals_with_copies": 60,
            "calibrated_on_coco": {"min_cosine": cosine, "max_hash_distance": cut},
            "defaults": {
                "min_cosine": dupes.DEFAULT_MIN_COSINE,
                "max_hash_distance": dupes.DEFAULT_MAX_HASH_DISTANCE,
                "hash_min_cosine": dupes.DEFAULT_HASH_MIN_COSINE,
            },
            "imagenet_half_calibrated": evaluate(~is_coco, cosine, cut),
            "imagenet_half_defaults": evaluate(
                ~is_coco, dupes.DEFAULT_MIN_COSINE, dupes.DEFAULT_MAX_HASH_DISTANCE
            ),
            "all_defaults": evaluate(
                np.ones(len(ids), bool), dupes.DEFAULT_MIN_COSINE, dupes.DEFAULT_MAX_HASH_DISTANCE
            ),
            "keeper_is_original_or_its_colour_edit": round(
                float(np.mean([k in ("original", "colour") for k in keeper_edit])), 3
            ),
            "keeper_is_original": round(float(np.mean([k == "original" for k in keeper_edit])), 3),
        }

        rng = np.random.default_rng(0)
        big = emb[rng.integers(len(emb), size=10_000)] * rng.lognormal(
            0, 0.3, size=(10_000, emb.shape[1])
        ).astype(np.float32)
        times = []
        for _ in range(3):
            start = time.perf_counter()
            result = cluster(big)
            times.append(time.perf_counter() - start)
        start = time.perf_counter()
        cluster(big, k=20)
        fixed_k_s = time.perf_counter() - start
        big_ids = list(range(10_000))
        technical = technical_scores([qual[ids[r % len(ids)]] for r in range(10_000)])
        labels = {int(r): float(r % 2) for r in rng.choice(10_000, 40, replace=False)}
        best_times = []
        for _ in range(3):
            start = time.perf_counter()
            scored = score_photos(big_ids, big, technical=technical, labels=labels)
            chosen = select_diverse(big, scored.score, n=20)
            best_times.append(time.perf_counter() - start)
        print(
            json.dumps(
                {
                    "bench": "curate",
                    "threads": args.threads,
                    "duplicates": duplicates,
                    "tagging_s": round(tag_s, 2),
                    "measuring_pixels_s": round(measure_s, 2),
                    "measuring_photos_per_s": round(len(ids) / measure_s, 1),
                    "clustering_10k_auto_k_s": round(min(times), 3),
                    "clustering_10k_auto_k_s_runs": [round(t, 3) for t in times],
                    "clustering_10k_chosen_k": result.k,
                    "clustering_10k_silhouette": round(result.silhouette, 4),
                    "clustering_10k_k20_s": round(fixed_k_s, 3),
                    "best_of_10k_n20_with_40_judged_s": round(min(best_times), 3),
                    "best_of_10k_selected": len(chosen),
                },
                indent=1,
            )
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
