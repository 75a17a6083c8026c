"""``phototagger people``: the groups of faces, and naming, merging, confirming, rejecting."""

from __future__ import annotations

from pathlib import Path

import click

from core.cli import _open_store, _settings, cli, db_option, handle_errors


def _group_id(store, text: str) -> int:
    """A group given by number or by name."""
    from core.store import PeopleError

    if text.strip().isdigit():
        return store.people.person(int(text)).id
    person = store.people.person_named(text.strip())
    if person is None:
        raise PeopleError(f"no group named {text!r}")
    return person.id


@cli.group(invoke_without_command=True)
@db_option
@click.pass_context
@handle_errors
def people(ctx: click.Context, db_path: Path | None) -> None:
    """The people in your photos: groups of faces with their counts (subcommands change them)."""
    ctx.obj = {"db_path": db_path}
    if ctx.invoked_subcommand is not None:
        return
    from core.people.naming import groups

    with _open_store(_settings(), db_path) as store:
        found = groups(store)
    if not found:
        click.echo("no faces grouped yet: tag photos with 'Find faces' and 'Recognise people' on")
        return
    click.echo(f"{'group':>6}  {'name':<24} {'faces':>5} {'photos':>6}  suggested")
    for g in found:
        name = g.name or "(unnamed)"
        click.echo(f"{g.id:>6}  {name:<24} {g.faces:>5} {g.photos:>6}  {g.suggested or ''}")


def _db(ctx: click.Context, db_path: Path | None) -> Path | None:
    return db_path or (ctx.obj or {}).get("db_path")


@people.command("group")
@db_option
@click.pass_context
@handle_errors
def group_cmd(ctx: click.Context, db_path: Path | None) -> None:
    """Suggest names for new faces and group the others (tagging does this too)."""
    from core.people.groups import group_faces

    with _open_store(_settings(), _db(ctx, db_path)) as store:
        summary = group_faces(store)
    click.echo(
        f"{summary.faces} faces: {summary.suggested} with a suggested name, "
        f"{summary.grouped} in {summary.groups} unnamed groups"
    )


@people.command("name")
@click.argument("group")
@click.argument("name")
@db_option
@click.pass_context
@handle_errors
def name_cmd(ctx: click.Context, group: str, name: str, db_path: Path | None) -> None:
    """Name GROUP (its number or current name); its photos get NAME as a tag."""
    from core.people.naming import name_group

    with _open_store(_settings(), _db(ctx, db_path)) as store:
        person = name_group(store, _group_id(store, group), name)
    click.echo(f"group {person} is {name}")


@people.command("merge")
@click.argument("source")
@click.argument("target")
@db_option
@click.pass_context
@handle_errors
def merge_cmd(ctx: click.Context, source: str, target: str, db_path: Path | None) -> None:
    """Move every face of SOURCE into TARGET (both by number or name)."""
    from core.people.naming import merge_groups

    with _open_store(_settings(), _db(ctx, db_path)) as store:
        person = merge_groups(store, _group_id(store, source), _group_id(store, target))
    click.echo(f"merged into group {person}")


@people.command("faces")
@click.argument("group")
@db_option
@click.pass_context
@handle_errors
def faces_cmd(ctx: click.Context, group: str, db_path: Path | None) -> None:
    """List GROUP's faces: face number, how it is there, the photo."""
    with _open_store(_settings(), _db(ctx, db_path)) as store:
        records = store.people
        faces = records.faces(person_id=_group_id(store, group))
        uris = store.photo_uris(f.photo_id for f in faces)
    for f in faces:
        confidence = f" {f.confidence:.2f}" if f.source == "suggested" and f.confidence else ""
        click.echo(f"{f.id:>6}  {f.source or '':<9}{confidence:<5}  {uris.get(f.photo_id, '')}")


@people.command("suggestions")
@db_option
@click.pass_context
@handle_errors
def suggestions_cmd(ctx: click.Context, db_path: Path | None) -> None:
    """Faces with a suggested name and its confidence (confirm or reject them)."""
    from core.people.naming import suggestions

    with _open_store(_settings(), _db(ctx, db_path)) as store:
        found = suggestions(store)
        uris = store.photo_uris(s.photo_id for s in found)
    if not found:
        click.echo("no suggestions")
    for s in found:
        who = s.name or f"group {s.person_id}"
        click.echo(f"{s.face_id:>6}  {who:<24} {s.confidence:.2f}  {uris.get(s.photo_id, '')}")


@people.command("confirm")
@click.argument("face", type=int)
@click.argument("group", required=False)
@db_option
@click.pass_context
@handle_errors
def confirm_cmd(ctx: click.Context, face: int, group: str | None, db_path: Path | None) -> None:
    """Yes to FACE's suggested name, or put FACE in GROUP."""
    from core.people.naming import confirm_face

    with _open_store(_settings(), _db(ctx, db_path)) as store:
        person = confirm_face(store, face, _group_id(store, group) if group else None)
        name = store.people.person(person).name
    click.echo(f"face {face} is {name or f'group {person}'}")


@people.command("reject")
@click.argument("face", type=int)
@click.argument("group", required=False)
@db_option
@click.pass_context
@handle_errors
def reject_cmd(ctx: click.Context, face: int, group: str | None, db_path: Path | None) -> None:
    """FACE is not GROUP (default: the group it is in now); no later run puts it back."""
    from core.people.naming import reject_face

    with _open_store(_settings(), _db(ctx, db_path)) as store:
        reject_face(store, face, _group_id(store, group) if group else None)
    click.echo(f"face {face} moved out; it will not be put back")


@people.command("forget")
@click.option("--yes", is_flag=True, help="Do not ask.")
@db_option
@click.pass_context
@handle_errors
def forget_cmd(ctx: click.Context, yes: bool, db_path: Path | None) -> None:
    """Delete every face, embedding, group and name from the database."""
    from core.people.naming import forget_people

    if not yes:
        click.confirm("Delete all face data (faces, embeddings, groups, names)?", abort=True)
    with _open_store(_settings(), _db(ctx, db_path)) as store:
        count = forget_people(store)
    click.echo(
        f"{count} faces deleted; tags already given to photos stay. "
        "Turn 'Find faces' off in the settings to keep new ones from being found."
    )
