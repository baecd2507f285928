"""configure delete, rename, load and verify: whole-object edits of a CIB tree (pure).

delete removes the objects and every constraint that would be left naming one of them
(crmsh does the same); members leave their group, and a group left empty goes too. rename
changes an id and every reference. load replace empties resources, constraints and the
property/defaults sets before applying the file; load update replaces objects by id.
Checks come first, so an error leaves the tree unchanged.
"""

from __future__ import annotations

from lxml import etree

from crmd import cibedit
from crmd.shell.configure import apply, split_commands
from messaging.errors import NotFoundError, ValidationError

_REFERENCES = ("rsc", "with-rsc", "first", "then")


def delete(root: etree._Element, ids: list[str]) -> list[str]:
    """Delete objects. As in crmsh, deleting a group, clone or ms removes only the container:
    its members stay (appended at the end) and constraints naming it move to its first member."""
    configuration = root.find("configuration")
    if configuration is None:
        raise NotFoundError("the CIB has no configuration")
    found = []
    for ident in ids:
        element = cibedit.find_by_id(configuration, ident)
        if element is None:
            raise NotFoundError(f"object {ident} does not exist")
        found.append(element)
    notes: list[str] = []
    gone: set[str] = set()
    for element in found:
        if element.tag in ("group", "clone", "master"):
            _unwrap(configuration, element, notes)
            continue
        gone.add(element.get("id") or "")
        gone |= {d.get("id") or "" for d in element.iterdescendants() if d.get("id")}
        cibedit.remove(element)
    for constraint in list(configuration.iterfind("constraints/*")):
        if constraint.find("resource_set") is not None:
            _leave_sets(constraint, gone, notes)
            continue
        named = {constraint.get(a) for a in _REFERENCES}
        if named & gone and constraint.get("id") not in gone:
            notes.append(f"INFO: hanging {constraint.tag.removeprefix('rsc_')}:"
                         f"{constraint.get('id')} deleted")
            cibedit.remove(constraint)
    return notes


def _leave_sets(constraint: etree._Element, gone: set[str], notes: list[str]) -> None:
    """crmsh 4.4.1 takes deleted resources out of a constraint's sets: emptied sets go; a
    constraint left with two resources and no unordered set of several becomes a plain
    one; one left naming a single resource (none, for a location or ticket) goes."""
    refs = [ref for ref in constraint.iter("resource_ref") if ref.get("id") in gone]
    if not refs:
        return
    for ref in refs:
        cibedit.remove(ref)
    count, unordered = 0, False
    for block in constraint.findall("resource_set"):
        members = len(block.findall("resource_ref"))
        if members == 0:
            cibedit.remove(block)
        elif members > 1 and block.get("sequential", "true").lower() in _FALSE:
            unordered = True
        count += members
    if count == 2 and not unordered:
        constraint = _plain(constraint)
    name = f"{constraint.tag.removeprefix('rsc_')}:{constraint.get('id')}"
    single = constraint.tag in ("rsc_location", "rsc_ticket")
    if count < (1 if single else 2):
        cibedit.remove(constraint)
        notes.append(f"INFO: hanging {name} deleted")
    else:
        notes.append(f"INFO: constraint {name} updated")


_FALSE = ("false", "no", "off", "0", "n")


def _plain(constraint: etree._Element) -> etree._Element:
    """The two-resource set constraint rewritten in the plain form, as crmsh does: written
    out in its syntax without the set marks and read back; a colocation that had one set
    then names its members the other way round (a set colocates each with the one before)."""
    from crmd.shell import syntax
    from crmd.shell.render import render_syntax
    from crmd.shell.rules import Unrenderable

    blocks = constraint.findall("resource_set")
    for block in blocks:
        if "sequential" in block.attrib:
            del block.attrib["sequential"]
    word = constraint.tag.removeprefix("rsc_")
    try:
        text = render_syntax(constraint)
    except Unrenderable:
        return constraint
    build = syntax.colocation if word == "colocation" else syntax.order
    plain = build(text.split()[1:])
    if word == "colocation" and len(blocks) == 1:
        rsc, with_rsc = plain.get("rsc"), plain.get("with-rsc")
        plain.set("rsc", with_rsc or "")
        plain.set("with-rsc", rsc or "")
    parent = constraint.getparent()
    assert parent is not None
    parent.replace(constraint, plain)
    return plain


def _unwrap(configuration: etree._Element, container: etree._Element,
            notes: list[str]) -> None:
    members = [c for c in container if c.tag in cibedit.RESOURCE_TAGS]
    parent = container.getparent()
    assert parent is not None
    cibedit.remove(container)
    for member in members:  # crmsh appends the freed members at the end
        parent.append(member)
    old, new = container.get("id") or "", members[0].get("id") or "" if members else ""
    for constraint in configuration.iterfind("constraints/*"):
        for attribute in _REFERENCES:
            if constraint.get(attribute) == old and new:
                constraint.set(attribute, new)
                notes.append(f"INFO: modified {constraint.tag.removeprefix('rsc_')}:"
                             f"{constraint.get('id')} from {old} to {new}")


def rename(root: etree._Element, old: str, new: str) -> None:
    element = cibedit.find_by_id(root, old)
    if element is None:
        raise NotFoundError(f"object {old} does not exist")
    if new in cibedit.ids_in_use(root):
        raise ValidationError(f"id {new!r} is already in use")
    element.set("id", new)
    for node in root.iter():
        if not isinstance(node.tag, str):
            continue
        for attribute in (*_REFERENCES, "id-ref"):
            if node.get(attribute) == old:
                node.set(attribute, new)
        if node.tag == "resource_ref" and node.get("id") == old:
            node.set("id", new)


_CLEARED = ("resources", "constraints", "crm_config", "rsc_defaults", "op_defaults")


def load(root: etree._Element, text: str, *, replace: bool) -> etree._Element:
    """Apply a file of configure commands to a copy; the copy is returned on success."""
    return load_commands(root, split_commands(text), replace=replace)


def load_commands(root: etree._Element, commands: list[list[str]], *,
                  replace: bool, redefine: bool = False) -> etree._Element:
    """`load` of commands already split into words. `redefine` (configure edit): a
    property set, defaults set or node given again replaces the old one rather than
    adding to it, so the lines the user deleted go."""
    work = etree.fromstring(etree.tostring(root))
    configuration = cibedit.section(work, "resources").getparent()
    assert configuration is not None
    if replace:
        for name in _CLEARED:
            block = configuration.find(name)
            if block is not None:
                for child in list(block):
                    block.remove(child)
        nodes = configuration.find("nodes")
        if nodes is not None:
            for node in list(nodes):
                nodes.remove(node)
    for number, (word, *args) in enumerate(commands, start=1):
        ident = _object_id(word, args)
        place = None
        if not replace and ident:
            existing = cibedit.find_by_id(configuration, ident)
            merged = word in ("property", "rsc_defaults", "op_defaults", "node")
            if existing is not None and (redefine or not merged):
                place = _take_out(configuration, existing)
        try:
            apply(work, word, args)
        except ValidationError as error:
            raise ValidationError(f"line {number}: {error.message}") from None
        if place is not None and ident:
            _put_back(configuration, ident, place)
    return work


def _take_out(configuration: etree._Element,
              existing: etree._Element) -> tuple[etree._Element, int] | None:
    """Remove an object that is about to be redefined; where it was."""
    parent = existing.getparent()
    _free_members(configuration, existing)
    place = (parent, parent.index(existing)) if parent is not None else None
    cibedit.remove(existing)
    return place


def _put_back(configuration: etree._Element, ident: str,
              place: tuple[etree._Element, int]) -> None:
    """A redefined object keeps its place among its siblings (crmsh replaces in place)."""
    parent, index = place
    rebuilt = cibedit.find_by_id(configuration, ident)
    if rebuilt is not None and rebuilt.getparent() is parent:
        parent.remove(rebuilt)
        parent.insert(index, rebuilt)


def _free_members(configuration: etree._Element, container: etree._Element) -> None:
    """Before a group/clone/ms is replaced, its members go back to the top level, so the
    new definition (which names them) can take them again, as crmsh's load update does."""
    resources = configuration.find("resources")
    if container.tag not in ("group", "clone", "master") or resources is None:
        return
    for member in [c for c in container if c.tag in cibedit.RESOURCE_TAGS]:
        resources.append(member)


def edited(root: etree._Element, before: str, after: str,
           only: set[str] | None) -> etree._Element | None:
    """`configure edit`: the CIB with the edited text applied, None when nothing changed.

    As crmsh does, only objects whose text changed are redefined (in place, so untouched
    ones keep their generated ids and positions), new ones are added, and objects of the
    edited text (`only`, or everything shown) whose lines are gone are deleted.
    """
    old = {_object_id(word, args): [word, *args] for word, *args in split_commands(before)}
    new = split_commands(after)
    changed = [command for command in new
               if old.get(_object_id(command[0], command[1:])) != command]
    kept = {_object_id(word, args) for word, *args in new}
    gone = (set(old) if only is None else only) - kept
    if not changed and not gone:
        return None
    work = load_commands(root, changed, replace=False, redefine=True)
    configuration = work.find("configuration")
    for ident in sorted(i for i in gone if i):
        element = cibedit.find_by_id(configuration, ident) if configuration is not None \
            else None
        if element is not None:
            cibedit.remove(element)
    return work


def _object_id(word: str, args: list[str]) -> str | None:
    if word == "xml":
        from crmd.shell.syntax import xml_element

        return xml_element(args).get("id")
    # "property cib-bootstrap-options: ..." and "node 1: alpha" name the object "id:".
    return args[0].removesuffix(":") if args else None


def verify(root: etree._Element) -> list[str]:
    """Run the policy engine over the CIB; its complaints, or nothing when all is well."""
    from messaging.errors import HAError
    from pengine.api import schedule

    try:
        schedule(root)
    except HAError as error:
        return [f"ERROR: {error}"]
    return []
