"""Tagging, exporting, listing backbones and scripted review."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import click

from core.cli import (
    EXIT_INTERRUPTED,
    EXIT_PARTIAL,
    _fail,
    _location_prefix,
    _open_store,
    _settings,
    cli,
    db_option,
    handle_errors,
)


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
        from core.cli.learning import refresh_learned

        refresh_learned(store, backbone=spec.name, uris=uris)
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
    uri_prefix = _location_prefix(uri_prefix)
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
