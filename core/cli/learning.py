"""Learning from decisions: train, import, compare."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from core.cli import (
    EXIT_PARTIAL,
    _fail,
    _open_store,
    _settings,
    cli,
    db_option,
    handle_errors,
)


def apply_learned_to(store, *, backbone: str, uris: list[str] | None = None) -> int:
    """The current kept learned version's suggestions on the given photos (default: all)."""
    from core.learning.learned import apply_learned

    ids = None if uris is None else [i for i in map(store.photo_id, uris) if i is not None]
    return apply_learned(store, ids, backbone=backbone)


@cli.command()
@click.option("--backbone", help="Learn on this backbone's embeddings (default: settings).")
@click.option(
    "--discard",
    is_flag=True,
    help="Discard the newest kept learned version and restore the suggestions from before it.",
)
@db_option
@handle_errors
def train(backbone, discard, db_path) -> None:
    """Learn from your decisions: a new learned version, used only where it beats the backbone."""
    from core.learning.learned import discard_version, learn_from_store

    settings = _settings(backbone=backbone)
    with _open_store(settings, db_path) as store:
        if discard:
            current = discard_version(store, backbone=settings.backbone)
            click.echo(
                "discarded; now "
                + (f"learned version {current.id}" if current else "the backbone alone")
            )
            return
        v = learn_from_store(
            store, backbone=settings.backbone, display_threshold=settings.threshold
        )
        apply_learned_to(store, backbone=settings.backbone)
    m = v.metrics
    kept = v.kept_tags
    click.echo(
        f"learned version {v.id} ({len(v.tags)} tags, {m.photos} photos, {m.seconds:.1f}s):"
        f" held-out mAP {_fmt(m.shown_map)} as shown, backbone alone {_fmt(m.backbone_map)}"
        f" (learned scores alone {_fmt(m.learned_map)}); used for {len(kept)} tags,"
        f" the backbone's stand for {len(v.tags) - len(kept)}"
    )
    for g in sorted(v.gates, key=lambda g: (not g.kept, -g.positives))[:25]:
        click.echo("  " + g.sentence())
    click.echo("undo with: phototagger train --discard", err=True)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


@cli.command("import")
@click.argument("inputs", nargs=-1)
@click.option(
    "--labels",
    "labels_csv",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A CSV of path,tags (tags separated by ';').",
)
@db_option
@handle_errors
def import_(inputs, labels_csv, db_path) -> None:
    """Import existing tags as decisions: a path,tags CSV (--labels), or the keywords in
    photos' XMP/IPTC and their .xmp sidecars (folders and files given as arguments).

    Exits with 1 when nothing was imported, saying why.
    """
    from core.engine.sources import collect
    from core.learning.labels import import_csv, import_keywords

    if not inputs and not labels_csv:
        raise click.UsageError("give --labels FILE, or folders/files whose keywords to import")
    tables = [i for i in inputs if Path(i).suffix.lower() in (".csv", ".tsv", ".txt")]
    if tables:
        raise click.UsageError(
            f"{tables[0]} is a table, not a photo: give it as --labels {tables[0]}"
        )
    settings = _settings()
    problems = []
    with _open_store(settings, db_path) as store:
        if labels_csv:
            s = import_csv(store, labels_csv)
            click.echo(f"{s.decisions} tags on {s.photos} photos from {labels_csv}", err=True)
            for missing in s.missing[:10]:
                click.echo(f"not found: {missing}", err=True)
            problems.append(s.why_nothing(str(labels_csv)))
        if inputs:
            s = import_keywords(store, collect(inputs))
            click.echo(f"{s.decisions} keywords on {s.photos} photos", err=True)
            problems.append(s.why_nothing(", ".join(inputs)))
    for problem in filter(None, problems):
        click.echo(f"phototagger: {problem}", err=True)
    if any(problems):
        sys.exit(EXIT_PARTIAL)
    click.echo("run 'phototagger tag' on these photos, then 'phototagger train'", err=True)


@cli.command()
@click.option(
    "--labels",
    "labels_csv",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A CSV of path,tags: the labelled photos to compare on "
    "(default: the confirmed tags of the database's local photos).",
)
@click.option("--backbones", "names", multiple=True, help="Only these (default: all available).")
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda", "mps"]), default="cpu")
@db_option
@handle_errors
def compare(labels_csv, names, csv_out, device, db_path) -> None:
    """Learn and evaluate per backbone on the same labelled photos; print a table.

    The labels come from --labels, or else from the photos you confirmed tags on
    in the database (--db, or the default one).
    """
    import tempfile

    from core.learning.compare import compare_backbones, format_table, write_table_csv
    from core.settings import cache_dir

    with tempfile.TemporaryDirectory(prefix="phototagger-compare-") as scratch:
        if labels_csv is None:
            labels_csv = Path(scratch) / "labels.csv"
            with _open_store(_settings(), db_path) as store:
                count = write_confirmed_labels(store, labels_csv)
            if not count:
                _fail(
                    "the database has no local photos with confirmed tags to compare on; "
                    "give --labels FILE or review some photos first",
                    EXIT_PARTIAL,
                )
            click.echo(f"comparing on the confirmed tags of {count} photos", err=True)
        rows = compare_backbones(
            labels_csv,
            backbones=list(names) or None,
            device=device,
            cache_dir=cache_dir() / "onnx",
            progress=lambda message: click.echo(message, err=True),
        )
    click.echo(format_table(rows))
    if csv_out:
        write_table_csv(rows, csv_out)


def write_confirmed_labels(store, path: Path) -> int:
    """A path,tags CSV of the local photos with confirmed tags; returns how many photos."""
    import csv

    count = 0
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "tags"])
        for photo in store.photos():
            tags = store.confirmed_tags(photo.id) if photo.kind == "file" else []
            if tags:
                writer.writerow([photo.uri, ";".join(tags)])
                count += 1
    return count
