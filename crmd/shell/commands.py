"""The crm command tree (click): `crm <level> <command> ...` and the interactive shell's
commands are the same objects. Levels: configure, resource, node, ra, status.

Thin layer: parse words, call crmd.shell.configure / crmd.resource / crmd.cibedit, print.
Errors are HAError (exit code from the one table) with a message naming the bad token.
"""

from __future__ import annotations

import click
from lxml import etree

from crmd.shell.levels import node, resource
from crmd.shell.session import echo_notes, session

_RAW = {"ignore_unknown_options": True, "allow_extra_args": True,
        "help_option_names": ["-h", "--help"]}


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def crm() -> None:
    """crm shell (crmsh-compatible): configure, resource, node, status."""


@crm.group()
def configure() -> None:
    """CIB configuration: primitives, groups, clones, constraints, properties."""


def _object_command(word: str, help_text: str) -> None:
    @configure.command(word, context_settings=_RAW, help=help_text)
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def command(args: tuple[str, ...]) -> None:
        from crmd.shell.configure import apply

        if word == "primitive":  # crmsh asks the agent first (load and edit do not here)
            from crmd.shell.ra import check_agent
            from crmd.shell.syntax import primitive

            check_agent(primitive(list(args)))
        state = session()
        root = state.configuration_cib()
        snapshot = _copy(root)
        try:
            echo_notes(apply(root, word, list(args)))
        except Exception:
            state.working = snapshot  # nothing half-applied
            raise
        state.configured()


def _copy(root: etree._Element) -> etree._Element:
    return etree.fromstring(etree.tostring(root))


for _word, _help in (
        ("primitive", "primitive ID CLASS:PROVIDER:TYPE [params ...] [meta ...] [op ...]"),
        ("group", "group ID RSC... [meta ...]"), ("clone", "clone ID RSC [meta ...]"),
        ("ms", "ms ID RSC [meta ...] (deprecated: clone ... meta promotable=true)"),
        ("location", "location ID RSC SCORE: NODE | location ID RSC rule SCORE: EXPR"),
        ("colocation", "colocation ID SCORE: RSC[:ROLE] WITH-RSC[:ROLE]"),
        ("order", "order ID [KIND:] FIRST[:ACTION] THEN[:ACTION]"),
        ("property", "property [SET:] NAME=VALUE..."),
        ("rsc_defaults", "rsc_defaults NAME=VALUE..."),
        ("op_defaults", "op_defaults NAME=VALUE..."),
        ("node", "node [ID:] UNAME [attributes ...] [utilization ...]"),
        ("xml", "xml <element .../>")):
    _object_command(_word, _help)


@configure.command("show", context_settings=_RAW)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def configure_show(args: tuple[str, ...]) -> None:
    """show [xml] [ID...]: the configuration in crmsh syntax (or XML)."""
    from crmd.shell.render import show

    words = list(args)
    as_xml = bool(words) and words[0] == "xml"
    if as_xml:
        words.pop(0)
    root = session().configuration_cib()
    configuration = root.find("configuration")
    if configuration is None:
        return
    if as_xml:
        if not words:
            click.echo(etree.tostring(root, pretty_print=True, encoding="unicode").rstrip())
            return
        from crmd import cibedit

        for ident in words:
            element = cibedit.find_by_id(configuration, ident)
            if element is None:
                raise _missing(ident)
            click.echo(etree.tostring(element, pretty_print=True, encoding="unicode").rstrip())
        return
    text = show(configuration, set(words) if words else None)
    missing = [w for w in words if f" {w}" not in text and f" {w}:" not in text]
    if missing:
        raise _missing(missing[0])
    if text:
        click.echo(text)


def _missing(ident: str) -> Exception:
    from messaging.errors import NotFoundError

    return NotFoundError(f"object {ident} does not exist")


@configure.command("delete")
@click.argument("ids", nargs=-1, required=True)
def configure_delete(ids: tuple[str, ...]) -> None:
    """delete ID...: remove objects (and constraints left pointing at nothing)."""
    from crmd.shell.edits import delete

    state = session()
    echo_notes(delete(state.configuration_cib(), list(ids)))
    state.configured()


@configure.command("rename")
@click.argument("old")
@click.argument("new")
def configure_rename(old: str, new: str) -> None:
    """rename OLD NEW: change an id and every reference to it."""
    from crmd.shell.edits import rename

    state = session()
    rename(state.configuration_cib(), old, new)
    state.configured()


@configure.command("verify")
def configure_verify() -> None:
    """verify: check the configuration with the policy engine."""
    from crmd.shell.edits import verify

    for line in verify(session().configuration_cib()):
        click.echo(line)


@configure.command("load")
@click.argument("method", type=click.Choice(["replace", "update"]))
@click.argument("path", type=click.Path(dir_okay=False))
def configure_load(method: str, path: str) -> None:
    """load replace|update FILE: apply a file of crmsh configure commands."""
    from crmd.shell.edits import load

    state = session()
    root = state.configuration_cib()
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    state.working = load(root, text, replace=method == "replace")
    state.configured()


@configure.command("import")
@click.argument("kind", type=click.Choice(["haresources"]))
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--ha-cf", type=click.Path(exists=True, dir_okay=False),
              help="ha.cf whose auto_failback decides the stickiness.")
def configure_import(kind: str, path: str, ha_cf: str | None) -> None:
    """import haresources FILE: Heartbeat v1 resources as primitives, groups, locations."""
    from crmd.shell.haresources import import_haresources

    state = session()
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    failback = None
    if ha_cf:
        with open(ha_cf, encoding="utf-8") as handle:
            failback = handle.read()
    echo_notes(import_haresources(state.configuration_cib(), text, failback))
    state.configured()


@configure.command("edit")
@click.argument("ids", nargs=-1)
def configure_edit(ids: tuple[str, ...]) -> None:
    """edit [ID...]: change the configuration (or these objects) in $EDITOR."""
    import sys

    from crmd.shell.edits import edited
    from crmd.shell.render import show

    if not sys.stdin.isatty():  # crmsh 4.4.1 refuses too: no one to type into the editor
        click.echo("INFO: edit not allowed in batch mode", err=True)
        raise click.exceptions.Exit(1)
    state = session()
    root = state.configuration_cib()
    configuration = root.find("configuration")
    only = set(ids) if ids else None
    before = show(configuration, only) if configuration is not None else ""
    missing = [i for i in ids if f" {i}" not in before and f" {i}:" not in before]
    if missing:
        raise _missing(missing[0])
    changed = edited(root, before, _run_editor(before + "\n"), only)
    if changed is not None:
        state.working = changed
        state.configured()


def _run_editor(text: str) -> str:
    """`text` as the user left it in $EDITOR (vi when unset)."""
    import os
    import shlex
    import subprocess
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".crm", prefix="crm-edit-",
                                     delete=False) as handle:
        handle.write(text)
    try:
        command = [*shlex.split(os.environ.get("EDITOR") or "vi"), handle.name]
        if subprocess.run(command, check=False).returncode != 0:
            from messaging.errors import HAError

            raise HAError(f"the editor ({command[0]}) failed; nothing changed")
        with open(handle.name, encoding="utf-8") as edited_file:
            return edited_file.read()
    finally:
        os.unlink(handle.name)


@configure.command("commit")
def configure_commit() -> None:
    """commit: write the working copy to the CIB."""
    if not session().commit():
        click.echo("INFO: apparently there is nothing to commit", err=True)


@configure.command("refresh")
def configure_refresh() -> None:
    """refresh: drop uncommitted changes and reread the CIB."""
    session().refresh()


@crm.command("status", context_settings=_RAW)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def status(args: tuple[str, ...]) -> None:
    """status [bynode|inactive|ops|timing|failcounts|xml]: crm_mon -1 -r, plus a warning
    about move/ban constraints left behind."""
    from crmd.shell.status import show_status

    click.echo(show_status(session().live_edit(), list(args)))


from crmd.shell import cluster_ops as _cluster_ops  # noqa: E402  registers on resource/node
from crmd.shell.ra import ra  # noqa: E402

crm.add_command(resource)
crm.add_command(node)
crm.add_command(ra)
del _cluster_ops
