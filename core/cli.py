"""The ``phototagger`` command: a thin adapter over the engine.

Heavy modules are imported inside the commands, so ``phototagger --help``
answers at once. Errors are one line on stderr; exit codes: 0 done, 1 done but
some photos failed, 2 bad usage, 3 could not run, 130 interrupted.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

EXIT_PARTIAL = 1
EXIT_ERROR = 3
EXIT_INTERRUPTED = 130


def _fail(message: str, code: int = EXIT_ERROR) -> None:
    click.echo(f"phototagger: {message}", err=True)
    sys.exit(code)


def handle_errors(func: Callable) -> Callable:
    """Turn the engine's errors into one line and an exit code, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from core.errors import PhotoTaggerError

        try:
            return func(*args, **kwargs)
        except PhotoTaggerError as exc:
            _fail(str(exc))
        except FileNotFoundError as exc:
            _fail(str(exc))
        except OSError as exc:
            _fail(f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""))

    return wrapper


def db_option(func: Callable) -> Callable:
    return click.option(
        "--db",
        "db_path",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Database file (default: PhotoTagger's data folder; PHOTOTAGGER_HOME moves it).",
    )(func)


def _settings(**overrides: Any):
    from core.settings import load_settings

    settings = load_settings()
    changes = {k: v for k, v in overrides.items() if v is not None}
    return settings.replace(**changes) if changes else settings


def _open_store(settings, db_path: Path | None):
    from core.settings import database_path
    from core.store import Store

    return Store(db_path or database_path(settings))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="phototagger", prog_name="phototagger")
@click.option("-v", "--verbose", count=True, help="Say more (-vv for debug output).")
def cli(verbose: int) -> None:
    """Tag photos with hashtags from a local deep-learning backbone, offline."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


@cli.command()
@click.argument("inputs", nargs=-1)
@click.option(
    "--urls",
    "urls_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A text file of image URLs, one a line.",
)
@click.option("--backbone", help="Backbone name (see 'phototagger backbones').")
@click.option(
    "--weights",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A local weights file for the backbone.",
)
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda", "mps"]), help="Where to run.")
@click.option("--threshold", type=click.FloatRange(0, 1), help="Lowest confidence exported.")
@click.option("--top-k", type=click.IntRange(1, 100), help="Most tags per photo exported.")
@click.option("--batch-size", type=click.IntRange(1, 1024), help="Photos per forward pass.")
@click.option(
    "--csv",
    "csv_out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the tagged photos' hashtags to this CSV file.",
)
@click.option(
    "--json",
    "json_out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write them as JSON too.",
)
@click.option("--rescan", is_flag=True, help="Tag again photos already tagged with this backbone.")
@db_option
@handle_errors
def tag(
    inputs,
    urls_file,
    backbone,
    weights,
    device,
    threshold,
    top_k,
    batch_size,
    csv_out,
    json_out,
    rescan,
    db_path,
) -> None:
    """Tag photos in folders, files and URLs; optionally write a CSV of hashtags."""
    from tqdm import tqdm

    from core.backbones import get_backbone_spec, with_weights_file
    from core.export import export_rows, write_csv, write_json
    from core.pipeline import Tagger, tag_photos
    from core.runtime import resolve_device
    from core.settings import cache_dir
    from core.sources import collect, read_url_list

    settings = _settings(
        backbone=backbone, device=device, threshold=threshold, top_k=top_k, batch_size=batch_size
    )
    items = list(inputs) + (read_url_list(urls_file) if urls_file else [])
    if not items:
        raise click.UsageError("give at least one folder, file or URL (or --urls FILE)")
    spec = get_backbone_spec(settings.backbone)
    if weights:
        spec = with_weights_file(spec, weights)
    refs = list(collect(items))
    if not refs:
        _fail("no photos found in " + ", ".join(items), EXIT_PARTIAL)
    resolved = resolve_device(settings.device)
    with _open_store(settings, db_path) as store:
        tagger = Tagger.open(spec, device=resolved, cache_dir=cache_dir() / "onnx")
        cancel = threading.Event()
        bar = tqdm(total=len(refs), unit="photo", disable=None, file=sys.stderr, dynamic_ncols=True)

        def on_results(results) -> None:
            bar.update(len(results))

        try:
            summary = tag_photos(
                refs,
                tagger=tagger,
                store=store,
                device=resolved,
                batch_size=settings.batch_size,
                rescan=rescan,
                cancel=cancel,
                on_results=on_results,
                max_pixels=settings.max_megapixels * 1_000_000,
            )
        except KeyboardInterrupt:
            cancel.set()
            bar.close()
            _fail("interrupted; photos tagged so far are saved", EXIT_INTERRUPTED)
        bar.close()
        uris = [r.uri for r in refs]
        _refresh_learned(store, backbone=spec.name, uris=uris)
        for out, writer in ((csv_out, write_csv), (json_out, write_json)):
            if out:
                rows = export_rows(
                    store,
                    threshold=settings.threshold,
                    top_k=settings.top_k,
                    backbone=spec.name,
                    uris=uris,
                )
                writer(rows, out, style=settings.hashtag_style)
    for uri, error in summary.errors[:20]:
        click.echo(f"failed: {uri}: {error}", err=True)
    if len(summary.errors) > 20:
        click.echo(f"... and {len(summary.errors) - 20} more failures", err=True)
    rate = (summary.tagged + summary.failed) / summary.elapsed if summary.elapsed > 0 else 0
    click.echo(
        f"{summary.tagged} tagged, {summary.failed} failed, {summary.skipped} already done "
        f"({rate:.1f} photos/s with {spec.name} on {tagger.runtime.name})",
        err=True,
    )
    if summary.failed:
        sys.exit(EXIT_PARTIAL)


@cli.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "json", "xmp"]),
    default="csv",
    show_default=True,
    help="xmp writes a sidecar beside each local photo.",
)
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="Output file (csv and json)."
)
@click.option(
    "--scope",
    type=click.Choice(["confirmed", "suggested"]),
    default="suggested",
    show_default=True,
    help="Confirmed tags only, or also suggestions over threshold.",
)
@click.option("--threshold", type=click.FloatRange(0, 1))
@click.option("--top-k", type=click.IntRange(1, 100))
@click.option("--backbone", help="Only suggestions from this backbone.")
@click.option("--under", "uri_prefix", help="Only photos whose location starts with this.")
@click.option(
    "--embed",
    is_flag=True,
    help="Also write keywords into the photo files (XMP/IPTC; image data untouched).",
)
@db_option
@handle_errors
def export(fmt, out, scope, threshold, top_k, backbone, uri_prefix, embed, db_path) -> None:
    """Export tags from the database to CSV, JSON or XMP sidecars."""
    from core.export import (
        embed_keywords,
        export_rows,
        keywords_for,
        write_csv,
        write_json,
        write_sidecars,
    )
    from core.vocabulary import Vocabulary

    settings = _settings(threshold=threshold, top_k=top_k)
    if fmt in ("csv", "json") and out is None:
        raise click.UsageError(f"--out is needed for {fmt}")
    if uri_prefix and not uri_prefix.startswith(("http://", "https://")):
        uri_prefix = os.path.abspath(uri_prefix)
    with _open_store(settings, db_path) as store:
        rows = list(
            export_rows(
                store,
                scope=scope,
                threshold=settings.threshold,
                top_k=settings.top_k,
                backbone=backbone,
                uri_prefix=uri_prefix,
            )
        )
    vocabulary = Vocabulary.bundled()
    if fmt == "csv":
        count = write_csv(rows, out, style=settings.hashtag_style)
    elif fmt == "json":
        count = write_json(rows, out, style=settings.hashtag_style)
    else:
        count = write_sidecars(iter(rows), vocabulary=vocabulary)
    click.echo(f"exported {count} photos", err=True)
    if embed:
        embedded = 0
        for row in rows:
            if row.tags and Path(row.location).is_file():
                embed_keywords(Path(row.location), *keywords_for(row, vocabulary))
                embedded += 1
        click.echo(f"wrote keywords into {embedded} photo files", err=True)


@cli.command()
@handle_errors
def backbones() -> None:
    """List the backbones, their size and input, and whether their weights are here."""
    from core.backbones import DEFAULT_BACKBONE, availability, list_backbones

    rows = [("name", "params", "input", "weights from", "status")]
    for spec in list_backbones():
        default = " (default)" if spec.name == DEFAULT_BACKBONE else ""
        rows.append(
            (
                spec.name + default,
                f"{spec.params_m:.1f}M",
                f"{spec.input_size}px",
                spec.weights.describe(),
                availability(spec),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


@cli.command()
@click.argument("photo")
@click.option("--accept", "accepts", multiple=True, metavar="TAG", help="Accept a suggested tag.")
@click.option("--reject", "rejects", multiple=True, metavar="TAG", help="Reject a tag.")
@click.option("--add", "adds", multiple=True, metavar="TAG", help="Add a tag of your own.")
@click.option("--remove", "removes", multiple=True, metavar="TAG", help="Remove a confirmed tag.")
@db_option
@handle_errors
def decide(photo, accepts, rejects, adds, removes, db_path) -> None:
    """Record decisions on a photo's tags (by path, URL or id), for scripted review."""
    settings = _settings()
    actions = (
        [("accept", t) for t in accepts]
        + [("reject", t) for t in rejects]
        + [("add", t) for t in adds]
        + [("remove", t) for t in removes]
    )
    if not actions:
        raise click.UsageError("give at least one of --accept, --reject, --add, --remove")
    with _open_store(settings, db_path) as store:
        row = store.find_photo(photo)
        with store.db.atomic():
            for action, tag in actions:
                store.record_decision(row.id, tag, action, origin="cli")
        confirmed = store.confirmed_tags(row.id)
    click.echo(f"{row.uri}: " + (", ".join(confirmed) if confirmed else "no confirmed tags"))


def curate_options(func: Callable) -> Callable:
    """Options the curation commands share: which album, which embeddings, where results go."""
    for option in reversed(
        [
            click.option(
                "--under", "uri_prefix", help="Only photos whose location starts with this."
            ),
            click.option("--backbone", help="Whose embeddings to use (default: the settings')."),
            click.option("--csv", "csv_out", type=click.Path(dir_okay=False, path_type=Path)),
            click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path)),
            db_option,
        ]
    ):
        func = option(func)
    return func


def _album(store, uri_prefix: str | None) -> list[int] | None:
    from core.curate import album_ids

    if not uri_prefix:
        return None
    if not uri_prefix.startswith(("http://", "https://")):
        uri_prefix = os.path.abspath(uri_prefix)
    return album_ids(store, uri_prefix=uri_prefix)


def _measuring_bar():
    from tqdm import tqdm

    bar = tqdm(unit="photo", desc="measuring", disable=None, file=sys.stderr, leave=False)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    return bar, progress


def _write_outputs(rows: list[dict], csv_out: Path | None, json_out: Path | None) -> None:
    from core.curate import write_table

    for out, fmt in ((csv_out, "csv"), (json_out, "json")):
        if out:
            write_table(rows, out, fmt=fmt)


@cli.command()
@click.option("--min-cosine", type=click.FloatRange(0, 1), help="Embedding similarity to link.")
@click.option("--no-pixels", is_flag=True, help="Embeddings only: decode no photo.")
@curate_options
@handle_errors
def dupes(min_cosine, no_pixels, uri_prefix, backbone, csv_out, json_out, db_path) -> None:
    """Find near-duplicates and bursts among tagged photos; suggest a keeper for each group."""
    from core.dupes import DEFAULT_MIN_COSINE, find_duplicates

    settings = _settings(backbone=backbone)
    with _open_store(settings, db_path) as store:
        bar, progress = _measuring_bar()
        groups = find_duplicates(
            store,
            backbone=settings.backbone,
            photo_ids=_album(store, uri_prefix),
            min_cosine=min_cosine or DEFAULT_MIN_COSINE,
            use_pixels=not no_pixels,
            progress=progress,
        )
        bar.close()
        rows = []
        for number, group in enumerate(groups, 1):
            for pid, sim, copy in zip(group.photo_ids, group.similarity, group.copies, strict=True):
                rows.append(
                    {
                        "group": number,
                        "role": "keeper" if pid == group.keeper else "duplicate",
                        "photo_id": pid,
                        "location": store.photo(pid).uri,
                        "similarity": sim,
                        "copy": copy,
                    }
                )
    for row in rows:
        click.echo(f"{row['group']}\t{row['role']}\t{row['similarity']:.3f}\t{row['location']}")
    _write_outputs(rows, csv_out, json_out)
    redundant = sum(len(g.others) for g in groups)
    click.echo(f"{len(groups)} groups, {redundant} photos their keepers make redundant", err=True)


@cli.command()
@click.option(
    "--k", "k", type=click.IntRange(1, 1000), help="How many groups (default: from the data)."
)
@click.option(
    "--name",
    "names",
    multiple=True,
    metavar="GROUP=TAG",
    help="Add TAG to every photo of group number GROUP (as listed) as a decision.",
)
@curate_options
@handle_errors
def groups(k, names, uri_prefix, backbone, csv_out, json_out, db_path) -> None:
    """Cluster tagged photos into visual groups, with suggested names; optionally name them."""
    from core.groups import album_groups, name_group

    settings = _settings(backbone=backbone)
    wanted: list[tuple[int, str]] = []
    for item in names:
        number, _, tag = item.partition("=")
        if not number.strip().isdigit() or not tag.strip():
            raise click.UsageError(f"--name takes GROUP=TAG, not {item!r}")
        wanted.append((int(number), tag.strip()))
    with _open_store(settings, db_path) as store:
        found = album_groups(
            store, backbone=settings.backbone, photo_ids=_album(store, uri_prefix), k=k
        )
        for number, tag in wanted:
            if not 1 <= number <= len(found):
                raise click.UsageError(f"there is no group {number}; there are {len(found)}")
            name_group(store, found[number - 1], tag, origin="cli")
            click.echo(
                f"tagged the {len(found[number - 1].photo_ids)} photos of group {number} '{tag}'",
                err=True,
            )
        rows = [
            {
                "group": g.index + 1,
                "names": "; ".join(g.names),
                "photo_id": pid,
                "location": store.photo(pid).uri,
            }
            for g in found
            for pid in g.photo_ids
        ]
    for g in found:
        click.echo(f"{g.index + 1}\t{len(g.photo_ids)} photos\t{', '.join(g.names) or '-'}")
    _write_outputs(rows, csv_out, json_out)


@cli.command()
@click.option("--n", "n", type=click.IntRange(1, 10_000), default=20, show_default=True)
@click.option(
    "--copy-to",
    type=click.Path(file_okay=False, path_type=Path),
    help="Copy the highlights into this folder (numbered; nothing is overwritten).",
)
@click.option(
    "--link-to",
    type=click.Path(file_okay=False, path_type=Path),
    help="Symlink the highlights into this folder instead of copying.",
)
@click.option("--no-pixels", is_flag=True, help="Embeddings and your picks only: decode no photo.")
@curate_options
@handle_errors
def best(n, copy_to, link_to, no_pixels, uri_prefix, backbone, csv_out, json_out, db_path) -> None:
    """Pick the N best photos that differ from each other, learning from your picks and stars."""
    from core.curate import place_photos
    from core.highlights import best_of

    if copy_to and link_to:
        raise click.UsageError("give --copy-to or --link-to, not both")
    settings = _settings(backbone=backbone)
    with _open_store(settings, db_path) as store:
        bar, progress = _measuring_bar()
        highlights = best_of(
            store,
            backbone=settings.backbone,
            n=n,
            photo_ids=_album(store, uri_prefix),
            use_pixels=not no_pixels,
            progress=progress,
        )
        bar.close()
        rows = [
            {
                "rank": rank,
                "photo_id": h.photo_id,
                "location": store.photo(h.photo_id).uri,
                "score": h.score,
                "technical": h.technical,
                "learned": h.learned,
            }
            for rank, h in enumerate(highlights, 1)
        ]
        folder = copy_to or link_to
        placed = (
            place_photos(
                store,
                [h.photo_id for h in highlights],
                folder,
                mode="link" if link_to else "copy",
            )
            if folder
            else []
        )
    for row in rows:
        click.echo(f"{row['rank']}\t{row['score']:.3f}\t{row['location']}")
    _write_outputs(rows, csv_out, json_out)
    if folder:
        verb = "linked" if link_to else "copied"
        click.echo(f"{verb} {len(placed)} highlights into {folder}", err=True)


@cli.command()
@click.argument("photos", nargs=-1, required=True)
@click.option("--pick", "pick", flag_value="pick", help="Mark as a pick.")
@click.option("--unpick", "pick", flag_value="unpick", help="Mark as 'not this one'.")
@click.option("--stars", type=click.IntRange(0, 5), help="Star rating, 1 to 5 (0 clears it).")
@db_option
@handle_errors
def rate(photos, pick, stars, db_path) -> None:
    """Pick, unpick or rate photos (by path, URL or id); 'best' learns from these."""
    from core.curate import record_pick, record_rating

    if pick is None and stars is None:
        raise click.UsageError("give --pick, --unpick or --stars N")
    settings = _settings()
    with _open_store(settings, db_path) as store:
        rows = [store.find_photo(photo) for photo in photos]
        with store.db.atomic():
            for row in rows:
                if pick is not None:
                    record_pick(store, row.id, picked=pick == "pick", origin="cli")
                if stars is not None:
                    record_rating(store, row.id, stars=stars, origin="cli")
    click.echo(f"recorded for {len(rows)} photos", err=True)


@cli.command(
    add_help_option=False,
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
)
@click.pass_context
def bot(ctx: click.Context) -> None:
    """Run the Telegram bot headless until Ctrl+C (options: phototagger bot --help)."""
    import subprocess

    # core must not import bot (layering), so the bot runs as its own module.
    sys.exit(subprocess.call([sys.executable, "-m", "bot", *ctx.args]))


def _refresh_learned(store, *, backbone: str, uris: list[str] | None = None) -> None:
    """Refinement and head suggestions from the decisions so far, once there are any."""
    if not store.user_tags():
        return
    from core.train import refresh_suggestions

    ids = None if uris is None else [i for i in map(store.photo_id, uris) if i is not None]
    refresh_suggestions(store, backbone=backbone, photo_ids=ids)


@cli.command()
@click.option("--backbone", help="Train on this backbone's embeddings (default: settings).")
@click.option(
    "--kind", type=click.Choice(["logistic", "mlp"]), default="logistic", show_default=True
)
@click.option(
    "--min-positives",
    type=click.IntRange(1),
    default=2,
    show_default=True,
    help="Confirmed photos a tag needs to be learned.",
)
@click.option("--device", default="cpu", show_default=True, help="torch device to train on.")
@db_option
@handle_errors
def train(backbone, kind, min_positives, device, db_path) -> None:
    """Learn from your decisions: train a head, store it, refresh suggestions."""
    from core.train import TrainOptions, train_from_store

    settings = _settings(backbone=backbone)
    options = TrainOptions(kind=kind, min_positives=min_positives, device=device)
    with _open_store(settings, db_path) as store:
        head = train_from_store(store, backbone=settings.backbone, options=options)
        _refresh_learned(store, backbone=settings.backbone)
    m = head.metrics
    click.echo(
        f"head {head.id} ({head.kind}, {len(head.tags)} tags, {m.photos} photos): "
        f"held-out mAP {_fmt(m.mean_average_precision)} (backbone alone "
        f"{_fmt(m.baseline_map)}), micro F1 {_fmt(m.micro_f1)}, macro F1 {_fmt(m.macro_f1)}, "
        f"{m.seconds:.1f}s"
    )
    for t in sorted(m.per_tag, key=lambda t: -t.positives)[:20]:
        click.echo(
            f"  {t.tag:<24} {t.positives:>5} photos  AP {_fmt(t.average_precision)}"
            f"  P {_fmt(t.precision)}  R {_fmt(t.recall)}  at {t.threshold:.2f}"
        )


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
    """Import existing tags as decisions: a path,tags CSV, or keywords in photos' XMP/IPTC."""
    from core.labels import import_csv, import_keywords
    from core.sources import collect

    if not inputs and not labels_csv:
        raise click.UsageError("give --labels FILE, or folders/files whose keywords to import")
    settings = _settings()
    with _open_store(settings, db_path) as store:
        if labels_csv:
            s = import_csv(store, labels_csv)
            click.echo(f"{s.decisions} tags on {s.photos} photos from {labels_csv}", err=True)
            for missing in s.missing[:10]:
                click.echo(f"not found: {missing}", err=True)
        if inputs:
            s = import_keywords(store, collect(inputs))
            click.echo(f"{s.decisions} keywords on {s.photos} photos", err=True)
    click.echo("run 'phototagger tag' on these photos, then 'phototagger train'", err=True)


@cli.command()
@click.option(
    "--labels",
    "labels_csv",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A CSV of path,tags: the labelled photos to compare on.",
)
@click.option("--backbones", "names", multiple=True, help="Only these (default: all available).")
@click.option(
    "--kind", type=click.Choice(["logistic", "mlp"]), default="logistic", show_default=True
)
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda", "mps"]), default="cpu")
@handle_errors
def compare(labels_csv, names, kind, csv_out, device) -> None:
    """Train and evaluate a head per backbone on the same labelled photos; print a table."""
    from core.settings import cache_dir
    from core.train import compare_backbones, format_table, write_table_csv

    rows = compare_backbones(
        labels_csv,
        backbones=list(names) or None,
        kind=kind,
        device=device,
        cache_dir=cache_dir() / "onnx",
        progress=lambda message: click.echo(message, err=True),
    )
    click.echo(format_table(rows))
    if csv_out:
        write_table_csv(rows, csv_out)


@cli.command()
def gui() -> None:
    """Open the desktop app."""
    from desktop.app import main as gui_main

    sys.exit(gui_main([]))


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name="phototagger")


if __name__ == "__main__":
    main()
