"""crm_resource's click command: its options, help text and usage errors.

Loaded only when a command line needs click: `crmd.resource.cli` reads the plain read-only
forms (`crm_resource -l`, `-W -r ID`...) itself, which then start without click's import.
The command calls `crmd.resource.cli.run`, as the plain forms do.
"""

from __future__ import annotations

import sys

import click

from crmd.resource.cli import ACTIONS, run
from messaging.errors import UsageError


@click.command(context_settings={"help_option_names": ["-h", "-?", "--help"]})
@click.option("-L", "--list", "list_", is_flag=True, help="List all cluster resources.")
@click.option("-l", "--list-raw", is_flag=True, help="List resource ids only.")
@click.option("-W", "--locate", is_flag=True, help="Show where a resource is running.")
@click.option("-a", "--constraints", is_flag=True, help="Show constraints on a resource.")
@click.option("-Y", "--why", is_flag=True, help="Show why a resource is (not) running.")
@click.option("-M", "--move", is_flag=True, help="Move a resource to -N node.")
@click.option("-B", "--ban", is_flag=True, help="Keep a resource off -N node.")
@click.option("-U", "--clear", is_flag=True, help="Remove --move/--ban constraints.")
@click.option("-C", "--cleanup", is_flag=True, help="Forget a resource's failures.")
@click.option("-R", "--refresh", is_flag=True, help="Forget a resource's whole history.")
@click.option("-p", "--set-parameter", metavar="NAME", help="Set a resource parameter.")
@click.option("-g", "--get-parameter", metavar="NAME", help="Show a resource parameter.")
@click.option("-d", "--delete-parameter", metavar="NAME", help="Delete a resource parameter.")
@click.option("-v", "--parameter-value", "value", metavar="VALUE", help="Value for -p.")
@click.option("-m", "--meta", is_flag=True, help="Act on meta attributes, not parameters.")
@click.option("-z", "--utilization", is_flag=True,
              help="Act on utilization attributes (wins over --meta).")
@click.option("-r", "--resource", metavar="ID", help="Resource id.")
@click.option("-N", "--node", metavar="NAME", help="Node name.")
@click.option("-u", "--lifetime", metavar="DURATION", help="Lifetime of --move/--ban.")
@click.option("--force-start", is_flag=True, help="Run the agent's start here, now.")
@click.option("--force-stop", is_flag=True, help="Run the agent's stop here, now.")
@click.option("--force-check", is_flag=True, help="Run the agent's monitor here, now.")
@click.option("--list-standards", is_flag=True, help="List supported standards.")
@click.option("--list-ocf-providers", is_flag=True, help="List all available OCF providers.")
@click.option("--list-ocf-alternatives", metavar="TYPE",
              help="List OCF providers of an agent type.")
@click.option("--list-agents", metavar="STD[:PROV]",
              help="List agents of a standard (or OCF provider).")
@click.option("--show-metadata", metavar="SPEC", help="Show an agent's meta-data.")
@click.option("-f", "--force", is_flag=True, help="Accepted for compatibility.")
@click.option("-Q", "--quiet", is_flag=True, help="Accepted for compatibility.")
def crm_resource(**kw: object) -> None:
    """Perform tasks related to cluster resources (hacluster's crm_resource)."""
    # click fills kw in the order the options were given: as with Pacemaker's crm_resource,
    # the last command option on the line wins ("--move --ban" bans)
    given = ["list" if key == "list_" else key for key, value in kw.items() if value]
    kw["list"] = kw.pop("list_")
    kw["name"] = kw.get("set_parameter") or kw.get("get_parameter") or kw.get("delete_parameter")
    chosen = [a for a in given if a in ACTIONS]
    if not chosen:
        raise UsageError("No command given (try --list, --locate, --move, ... or --help)")
    sys.exit(run(chosen[-1], kw))
