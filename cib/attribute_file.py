"""crm_attribute's work on a CIB: resolve the target, run the query or change.

The CIB is a `cib.backend.Backend`: a file (CIB_file, written after every CIB operation
that succeeded, even one that changed nothing, as Pacemaker's file backend does) or the
local cib daemon; the same code runs on both. Messages and exit codes are Pacemaker's. In
live mode a status (-l reboot) attribute of a cluster node is set and deleted through the
attribute manager (the CIB directly only when attrd does not answer), as Pacemaker's does.
"""

from __future__ import annotations

import argparse
import os
from typing import Protocol

from cib import attribute
from cib.backend import Backend
from cib.errors import NoSuchObject, reason_of
from cib.xmlio import Element
from messaging.errors import HAError


class Output(Protocol):
    """Where results and errors go (text or XML)."""

    def attribute(self, section: str, name: str, value: str, quiet: bool) -> None: ...

    def error(self, text: str) -> None: ...


def _node_name(options: argparse.Namespace) -> str:
    node = options.node or os.environ.get("OCF_RESKEY_CRM_meta_on_node")  # noqa: SIM112
    return node or os.uname().nodename


def _target(cib: Element, options: argparse.Namespace) -> attribute.Target:
    try:
        section = attribute.section_for(options.kind, options.node)
    except attribute.UnknownSection:
        # Pacemaker maps the node name (for any -t but crm_config, in any case) before it
        # looks at an unknown -t/-l: an unknown node is reported first (105)
        if (options.kind or "").lower() != "crm_config":
            attribute.node_uuid(cib, _node_name(options))
        raise
    if section == "crm_config":
        return attribute.Target(section)
    uuid, remote = attribute.node_uuid(cib, _node_name(options))
    return attribute.Target(section, uuid, remote)


def _through_attrd(backend: Backend, target: attribute.Target,
                   options: argparse.Namespace) -> bool:
    """Transient (status) attributes of a cluster node are set and deleted by the attribute
    manager, as Pacemaker's crm_attribute does (--set-name goes along: attrd puts a new
    attribute in that instance_attributes set); True when attrd took the change."""
    if target.section != "status" or target.remote or not options.name or options.attr_id:
        return False
    if options.delete:
        return backend.transient(options.name, None, _node_name(options), options.set_name)
    return options.value is not None and backend.transient(
        options.name, options.value, _node_name(options), options.set_name)


def run(backend: Backend, options: argparse.Namespace, out: Output) -> int:
    """Carry out the command line on the backend's CIB; returns the exit code."""
    try:
        cib = backend.load()
        target = _target(cib, options)
    except HAError as error:
        out.error(error.message)
        return int(error.exit_code)
    try:
        if _through_attrd(backend, target, options):
            return 0
        if options.delete:
            return _delete(backend, cib, target, options)
        if options.value is not None:
            return _update(backend, cib, target, options, out)
        return _query(cib, target, options, out)
    except attribute.MultipleMatches as many:
        print(f"Multiple attributes match name={options.name}")
        for pair in many.matches:
            print(f"  Value: {pair.get('value')} \t(id={pair.get('id')})")
        out.error("Please choose from one of the matches below and supply the 'id' with "
                  "--attr-id")
        return 0 if options.delete else int(many.exit_code)
    except HAError as error:
        out.error(f"Error performing operation: {reason_of(error)}")
        return int(error.exit_code)


def _query(cib: Element, target: attribute.Target, options: argparse.Namespace,
           out: Output) -> int:
    matches = attribute.find(cib, target, options.name, options.set_name, options.attr_id)
    if not matches and options.default is not None:
        out.attribute(target.section, options.name or "", options.default, options.quiet)
        return 0
    if not matches:
        raise NoSuchObject("no such attribute")
    for pair in matches:
        out.attribute(target.section, pair.get("name") or "", pair.get("value") or "",
                      options.quiet)
    return 0


def _update(backend: Backend, cib: Element, target: attribute.Target, options: argparse.Namespace,
            out: Output) -> int:
    if options.name is None and options.attr_id is None:
        out.error("Error performing operation: Invalid argument")
        return 70
    name = options.attr_id if options.name is None else options.name
    request = attribute.update_request(cib, target, name,
                                       options.value, options.set_name, options.attr_id)
    try:
        backend.commit(request)
    except NoSuchObject as error:
        out.error(f"Error setting {options.name}={options.value} (section={target.section}, "
                  f"set={options.set_name or ''}): {reason_of(error)}")
        raise
    return 0


def _delete(backend: Backend, cib: Element, target: attribute.Target,
            options: argparse.Namespace) -> int:
    request = attribute.delete_request(cib, target, options.name, options.set_name,
                                       options.attr_id)
    if request is None:
        return 0
    backend.commit(request)
    kind = "attribute" if target.node_uuid else "option"
    assert request.data is not None
    name = "" if options.name is None else f" name={options.name}"
    set_text = f" set={options.set_name}" if options.set_name else ""
    print(f"Deleted {target.section} {kind}: id={request.data.get('id')}{set_text}{name}")
    return 0
