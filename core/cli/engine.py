"""Tagging, exporting, listing backbones and scripted review."""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import click

from core.cli import (
    EXIT_INTERRUPTED,
    EXIT_PARTIAL,
    TOP_K_MAX,
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
@click.option(
    "--precision",
    type=click.Choice(["auto", "float", "int8"]),
    help="The default backbone's CPU graph (auto, the default: int8 where the CPU has VNNI "
    "or dot product, else float).",
)
@click.option("--threshold", type=click.FloatRange(0, 1), help="Lowest confidence exported.")
@click.option("--top-k", type=click.IntRange(1, TOP_K_MAX), help="Most tags per photo exported.")
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
@click.option(
    "--ray",
    "ray_address",
    metavar="ADDRESS",
    help="Decode and infer on a Ray cluster ('auto': the cluster this machine is in, "
    "ray://HOST:PORT, or 'local': a Ray instance here); results are stored here. "
    "Needs pip install 'phototagger[cluster]' and the photos at the same paths on every node.",
)
@click.option(
    "--ray-workers",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="Inference workers on the cluster, each holding the backbone.",
)
@db_option
@handle_errors
def tag(
    inputs,
    urls_file,
    backbone,
    weights,
    device,
    precision,
    threshold,
    top_k,
    batch_size,
    csv_out,
    json_out,
    rescan,
    ray_address,
    ray_workers,
    db_path,
) -> None:
    """Tag photos in folders, files and URLs; optionally write a CSV of hashtags."""
    from tqdm import tqdm

    from core.engine.backbones import get_backbone_spec, with_weights_file
    from core.engine.pipeline import Tagger, tag_photos
    from core.engine.runtime import resolve_device
    from core.engine.sources import collect, is_url, read_url_list
    from core.export.export import export_rows, write_csv, write_json
    from core.settings import cache_dir

    settings = _settings(
        backbone=backbone,
        device=device,
        precision=precision,
        threshold=threshold,
        top_k=top_k,
        batch_size=batch_size,
    )
    listed = read_url_list(urls_file) if urls_file else []
    # A line of --urls that is no http(s) URL is that line's failure; the others are tagged.
    bad_lines = [u for u in listed if not is_url(u)]
    items = list(inputs) + [u for u in listed if is_url(u)]
    if not items and not bad_lines:
        raise click.UsageError("give at least one folder, file or URL (or --urls FILE)")
    spec = get_backbone_spec(settings.backbone)
    if weights:
        spec = with_weights_file(spec, weights)
    refs = list(collect(items))
    for line in bad_lines:
        click.echo(f"failed: {line}: only http and https URLs can be fetched", err=True)
    if not refs:
        _fail("no photos found in " + ", ".join(items or [str(urls_file)]), EXIT_PARTIAL)
    with contextlib.ExitStack() as stack:
        runner, resolved = None, settings.device
        if ray_address:
            runner, resolved = stack.enter_context(
                _ray_runner(
                    ray_address,
                    workers=ray_workers,
                    device=settings.device,
                    precision=settings.precision,
                )
            )
        else:
            resolved = resolve_device(settings.device)
        store = stack.enter_context(_open_store(settings, db_path))
        # With Ray the backbone runs on the workers; here it only makes sure the export
        # they load exists, and the run is recorded with the workers' device.
        tagger = Tagger.open(
            spec,
            device="cpu" if runner else resolved,
            cache_dir=cache_dir() / "onnx",
            faces=settings.detect_faces,
            recognize=settings.recognize_faces,
            precision=settings.precision,
        )
        cancel = threading.Event()
        bar = tqdm(total=len(refs), unit="photo", disable=None, file=sys.stderr, dynamic_ncols=True)

        def on_results(results) -> None:
            bar.update(len(results))

        try:
            summary = tag_photos(
                refs,
                tagger=tagger,
                store=store,
                device=f"ray:{resolved}" if runner else resolved,
                batch_size=settings.batch_size,
                rescan=rescan,
                cancel=cancel,
                on_results=on_results,
                max_pixels=settings.max_megapixels * 1_000_000,
                runner=runner,
            )
        except KeyboardInterrupt:
            cancel.set()
            bar.close()
            _fail("interrupted; photos tagged so far are saved", EXIT_INTERRUPTED)
        bar.close()
        uris = [r.uri for r in refs]
        from core.cli.learning import apply_learned_to

        apply_learned_to(store, backbone=spec.name, uris=uris)
        if tagger.encoder is not None:
            from core.people.groups import group_faces

            grouped = group_faces(store)
            if grouped.suggested or grouped.grouped:
                click.echo(
                    f"people: {grouped.suggested} faces with a suggested name, "
                    f"{grouped.groups} unnamed groups (phototagger people)",
                    err=True,
                )
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
    failed = summary.failed + len(bad_lines)
    where = f"Ray ({ray_workers} x {resolved})" if ray_address else tagger.runtime.name
    click.echo(
        f"{summary.tagged} tagged, {failed} failed, {summary.skipped} already done "
        f"({rate:.1f} photos/s with {spec.name} on {where})",
        err=True,
    )
    if failed:
        sys.exit(EXIT_PARTIAL)


@contextlib.contextmanager
def _ray_runner(
    address: str, *, workers: int, device: str, precision: str
) -> Iterator[tuple[object, str]]:
    """Connect to the cluster for the ``with`` block; yields the runner and the workers' device."""
    from core.engine.cluster import RayRunner, cluster_device, connect
    from core.settings import cache_dir

    with connect(address):
        resolved = cluster_device(device)
        runner = RayRunner(
            cache_dir=cache_dir() / "onnx", workers=workers, device=resolved, precision=precision
        )
        runner.check_room()
        yield runner, resolved


@cli.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "json", "xmp"]),
    default="csv",
    show_default=True,
    help="xmp merges keywords into a sidecar beside each local photo.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Output file (csv and json; not needed with --embed alone).",
)
@click.option(
    "--scope",
    type=click.Choice(["confirmed", "suggested"]),
    help="Confirmed tags only, or also suggestions. Default: confirmed when writing sidecars "
    "or photos (--format xmp, --embed), suggested for csv and json.",
)
@click.option(
    "--min-score",
    type=click.FloatRange(0, 1),
    help="Lowest confidence of a suggestion written with --scope suggested "
    "(needed for sidecars and photos).",
)
@click.option("--threshold", type=click.FloatRange(0, 1), help="Lowest confidence (csv, json).")
@click.option("--top-k", type=click.IntRange(1, TOP_K_MAX), help="Most tags per photo.")
@click.option("--backbone", help="Only suggestions from this backbone.")
@click.option("--under", "uri_prefix", help="Only photos whose location starts with this.")
@click.option(
    "--embed",
    is_flag=True,
    help="Also merge keywords into JPEG files themselves (XMP and IPTC; EXIF, maker notes and "
    "image data untouched); other formats get a sidecar.",
)
@click.option(
    "--sidecar-name",
    type=click.Choice(["photo.jpg.xmp", "photo.xmp"]),
    default="photo.jpg.xmp",
    show_default=True,
    help="photo.jpg.xmp for digiKam and darktable, photo.xmp for Lightroom.",
)
@db_option
@handle_errors
def export(
    fmt,
    out,
    scope,
    min_score,
    threshold,
    top_k,
    backbone,
    uri_prefix,
    embed,
    sidecar_name,
    db_path,
) -> None:
    """Export tags to CSV or JSON, or merge them as keywords into XMP sidecars and photos.

    Keywords already in sidecars and photos are kept; only keywords PhotoTagger
    wrote and you rejected since are taken out. Files whose keywords are already
    right are not touched. A photo that cannot be written is one line on stderr,
    the others go on, and the exit code is 1.
    """
    from core.engine.vocabulary import Vocabulary
    from core.export.export import export_rows, write_csv, write_json, write_keyword_files

    into_files = fmt == "xmp" or embed
    scope = scope or ("confirmed" if into_files else "suggested")
    if into_files and scope == "suggested" and min_score is None:
        raise click.UsageError(
            "--scope suggested writes guesses into your files: give --min-score too"
        )
    settings = _settings(threshold=threshold, top_k=top_k)
    table = fmt in ("csv", "json") and (out is not None or not embed)
    if table and out is None:
        raise click.UsageError(f"--out is needed for {fmt}")
    uri_prefix = _location_prefix(uri_prefix)
    with _open_store(settings, db_path) as store:

        def rows(minimum: float):
            return list(
                export_rows(
                    store,
                    scope=scope,
                    threshold=minimum,
                    top_k=settings.top_k,
                    backbone=backbone,
                    uri_prefix=uri_prefix,
                )
            )

        if table:
            writer = write_csv if fmt == "csv" else write_json
            count = writer(rows(settings.threshold), out, style=settings.hashtag_style)
            click.echo(f"exported {count} photos to {out}", err=True)
        if not into_files:
            return
        report = write_keyword_files(
            rows(settings.threshold if min_score is None else min_score),
            vocabulary=Vocabulary.bundled(),
            sidecars=fmt == "xmp",
            embed=embed,
            naming=sidecar_name,
            store=store,
        )
    for outcome in report.notes:
        click.echo(f"note: {outcome.photo}: {outcome.message}", err=True)
    for outcome in report.failures:
        click.echo(f"failed: {outcome.photo}: {outcome.message}", err=True)
    click.echo(report.summary(), err=True)
    if report.failures:
        sys.exit(EXIT_PARTIAL)


@cli.command()
@handle_errors
def backbones() -> None:
    """List the backbones, their size and input, and whether their weights are here."""
    from core.engine.backbones import DEFAULT_BACKBONE, availability, list_backbones

    rows = [("name", "params", "input", "weights from", "status")]
    for spec in list_backbones():
        default = " (default)" if spec.name == DEFAULT_BACKBONE else ""
        rows.append(
            (
                spec.name + default,
                f"{spec.params_m:.1f}M",
                f"{spec.input_size}px",
                spec.weights.describe(),
                availability(spec).note,
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
    from core.store import Decision

    settings = _settings()
    actions = (
        [(Decision.ACCEPT, t) for t in accepts]
        + [(Decision.REJECT, t) for t in rejects]
        + [(Decision.ADD, t) for t in adds]
        + [(Decision.REMOVE, t) for t in removes]
    )
    if not actions:
        raise click.UsageError("give at least one of --accept, --reject, --add, --remove")
    with _open_store(settings, db_path) as store:
        row = store.find_photo(photo)
        with store.transaction():
            for action, tag in actions:
                store.record_decision(row.id, tag, action, origin="cli")
        confirmed = store.confirmed_tags(row.id)
    click.echo(f"{row.uri}: " + (", ".join(confirmed) if confirmed else "no confirmed tags"))
