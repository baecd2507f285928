"""`crm_attribute`: query, set and delete node attributes and cluster options (thin shell).

With CIB_file=PATH it works on that file (like Pacemaker's tools without a cluster), else on
the local cib daemon (`cib.backend`); with neither it exits 102 as Pacemaker's does.
Options, output lines and
exit codes are Pacemaker 2.1.5's; --output-as=xml prints its <pacemaker-result> document.
"""

from __future__ import annotations

import argparse
import os
import sys

# libxml2's escaping, shared with attrd_updater (xml.sax.saxutils costs ~30 ms of start-up:
# it imports urllib.request, http.client, email and ssl)
from cib.attrd_updater import UsageParser, quoteattr
from messaging.help_format import HelpFormatter

_STATUS_TEXT = {0: "OK", 2: "Invalid parameter", 64: "Incorrect usage",
                70: "Internal software bug", 78: "Invalid configuration",
                102: "Not connected", 105: "No such object", 108: "Requested item already exists",
                109: "Multiple items match request"}


def _parser() -> argparse.ArgumentParser:
    parser = UsageParser(prog="crm_attribute", description=(
        "Manage node attributes and cluster options (CIB_file=PATH works on a file)."),
        formatter_class=HelpFormatter)
    parser.add_argument("-n", "--name")
    parser.add_argument("-v", "--update", dest="value")
    parser.add_argument("-D", "--delete", action="store_true")
    parser.add_argument("-G", "--query", action="store_true")
    parser.add_argument("-N", "--node")
    parser.add_argument("-t", "--type", dest="kind")
    parser.add_argument("-l", "--lifetime", dest="kind")
    parser.add_argument("-q", "--quiet", action="store_true")
    parser.add_argument("-i", "--id", dest="attr_id")
    parser.add_argument("-s", "--set-name")
    parser.add_argument("-d", "--default")
    parser.add_argument("-p", "--promotion", nargs="?", action=_Promotion, dest="name")
    parser.set_defaults(promotion=False)
    parser.add_argument("--output-as", choices=("text", "xml"), default="text")
    return parser


class _Promotion(argparse.Action):
    """-p/--promotion[=RESOURCE]: the node attribute "master-RESOURCE" (the promotion score
    Pacemaker's scheduler reads), RESOURCE defaulting to $OCF_RESOURCE_INSTANCE. It shares
    -n's destination, so whichever of the two comes last names the attribute, as upstream."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        resource = values if isinstance(values, str) else os.environ.get("OCF_RESOURCE_INSTANCE")
        namespace.promotion = True
        namespace.name = None if resource is None else f"master-{resource}"


class _Out:
    """Collects what crm_attribute prints, in text or Pacemaker's XML result format."""

    def __init__(self, xml: bool, argv: list[str]) -> None:
        self.xml, self.argv, self.items, self.errors = xml, argv, [], []  # type: ignore[var-annotated]

    def attribute(self, section: str, name: str, value: str, quiet: bool) -> None:
        if self.xml:
            self.items.append(f"  <attribute name={quoteattr(name)} value={quoteattr(value)} "
                              f"scope={quoteattr(section)}/>")
        else:
            print(value if quiet else f"scope={section}  name={name} value={value}")

    def error(self, text: str) -> None:
        self.errors.append(f"crm_attribute: {text}")
        if not self.xml:
            print(f"crm_attribute: {text}", file=sys.stderr)

    def finish(self, code: int) -> int:
        if self.xml:
            request = quoteattr(" ".join(self.argv))
            print(f'<pacemaker-result api-version="2.25" request={request}>')
            print("\n".join(self.items)) if self.items else None
            status = f'  <status code="{code}" message="{_STATUS_TEXT.get(code, "Error")}"'
            if self.errors:
                print(status + ">\n    <errors>")
                for text in self.errors:
                    print(f"      <error>{_escape(text)}</error>")
                print("    </errors>\n  </status>")
            else:
                print(status + "/>")
            print("</pacemaker-result>")
        return code


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def main(argv: list[str] | None = None) -> int:
    """Run crm_attribute; returns the exit code (the console script, argv None, ends the
    process with it at once: messaging.tool_exit)."""
    code = _main(sys.argv[1:] if argv is None else argv)
    if argv is None:
        from messaging.tool_exit import exit_now

        exit_now(code)
    return code


def _main(args: list[str]) -> int:
    options = _parser().parse_args(args)
    out = _Out(options.output_as == "xml", [sys.argv[0], *args])
    if options.promotion:
        if options.name is None:
            out.error("-p/--promotion needs a resource: give one or run it from a resource agent")
            return out.finish(64)
        # a promotion score is a transient node attribute unless -t/-l says otherwise
        options.kind = options.kind or "reboot"
    from cib.attribute_file import run
    from cib.backend import backend_from_environment
    from messaging.errors import TransportError

    try:
        backend = backend_from_environment()
    except TransportError:
        out.error("Could not connect to the CIB: Transport endpoint is not connected")
        return out.finish(102)
    try:
        return out.finish(run(backend, options, out))
    finally:
        backend.close()
