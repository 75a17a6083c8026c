"""Curating an album: duplicates, groups, best-of, picks and ratings."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import click

from core.cli import (
    _location_prefix,
    _open_store,
    _settings,
    cli,
    db_option,
    handle_errors,
)


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
    from core.curation.curate import album_ids

    if not uri_prefix:
        return None
    return album_ids(store, uri_prefix=_location_prefix(uri_prefix))


def _measuring_bar():
    from tqdm import tqdm

    bar = tqdm(unit="photo", desc="measuring", disable=None, file=sys.stderr, leave=False)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    return bar, progress


def _write_outputs(rows: list[dict], csv_out: Path | None, json_out: Path | None) -> None:
    from core.curation.curate import write_table

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
    from core.curation.dupes import DEFAULT_MIN_COSINE, find_duplicates

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
    from core.curation.groups import album_groups, name_group

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
    from core.curation.curate import place_photos
    from core.curation.highlights import best_of

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
    from core.curation.curate import record_pick, record_rating

    if pick is None and stars is None:
        raise click.UsageError("give --pick, --unpick or --stars N")
    settings = _settings()
    with _open_store(settings, db_path) as store:
        rows = [store.find_photo(photo) for photo in photos]
        with store.transaction():
            for row in rows:
                if pick is not None:
                    record_pick(store, row.id, picked=pick == "pick", origin="cli")
                if stars is not None:
                    record_rating(store, row.id, stars=stars, origin="cli")
    click.echo(f"recorded for {len(rows)} photos", err=True)
