"""crm_resource's agent queries: --list-standards, --list-ocf-providers,
--list-ocf-alternatives, --list-agents and --show-metadata, as Pacemaker 2.1.5 answers them.

They need no CIB and no daemon: the agents are looked up where the lrmd (ocf, lsb) and
stonithd (stonith: fence_* agents) find them, through those packages' api modules, and
meta-data is produced by running the agent here. crmsh asks these five questions to
validate and complete `crm configure primitive`, so their texts and exit codes are
Pacemaker's:

- a standard or provider with no agents: "No agents found for standard 'S'" (and "and
  provider 'P'"), CRM_EX_ERROR (1);
- no provider has the type: "No OCF providers found for T", CRM_EX_NOSUCH (105);
- a spec that is not class:provider:type / class:type: "'X' is not a valid agent
  specification", and an agent that is not installed or gives no meta-data: "Metadata
  query for X failed: No such device or address", both CRM_EX_NOSUCH.

Listings are sorted as bytes (uppercase first), per provider for plain "ocf".
"""

from __future__ import annotations

from messaging.errors import ExitCode, HAError, NotFoundError

# The classes our executor runs (Pacemaker's also lists "service", which it maps to lsb
# or systemd; we have no such alias, so we do not claim it).
STANDARDS = ("ocf", "lsb", "service", "stonith")


class NoAgents(HAError):
    """A --list-agents query matched nothing (Pacemaker exits with CRM_EX_ERROR)."""

    exit_code = ExitCode.ERROR


def list_standards() -> list[str]:
    return list(STANDARDS)


def list_ocf_providers() -> list[str]:
    from lrmd.api import ocf_agents

    return list(ocf_agents())


def list_ocf_alternatives(agent_type: str) -> list[str]:
    """The OCF providers that have an agent named `agent_type`."""
    from lrmd.api import ocf_agents

    providers = [provider for provider, types in ocf_agents().items() if agent_type in types]
    if not providers:
        raise NotFoundError(f"No OCF providers found for {agent_type}")
    return providers


def list_agents(spec: str) -> list[str]:
    """The agents of a standard ("ocf", "lsb", "stonith") or of one OCF provider."""
    from lrmd.api import lsb_scripts, ocf_agents

    standard, _, provider = spec.partition(":")
    found: list[str] = []
    if standard == "ocf":
        by_provider = ocf_agents()
        for name in [provider] if provider else list(by_provider):
            found.extend(by_provider.get(name, []))
    elif standard in ("lsb", "service") and not provider:
        found = lsb_scripts()  # service: the init scripts (the executor runs no systemd)
    elif standard == "stonith" and not provider:
        from stonithd.api import installed_fence_agents

        found = installed_fence_agents()
    if not found:
        more = f" and provider '{provider}'" if provider else ""
        raise NoAgents(f"No agents found for standard '{standard}'{more}")
    return found


def show_metadata(spec: str) -> str:
    """The agent's meta-data XML as the agent prints it (one trailing newline)."""
    parts = spec.split(":")
    shape_ok = (len(parts) == 3 and parts[0] == "ocf") or (
        len(parts) == 2 and parts[0] in ("lsb", "stonith", "service"))
    if not shape_ok or not all(parts):
        raise NotFoundError(f"'{spec}' is not a valid agent specification")
    try:
        return _metadata(parts).rstrip("\n") + "\n"
    except HAError:
        raise NotFoundError(f"Metadata query for {spec} failed: No such device or "
                            "address") from None


def _metadata(parts: list[str]) -> str:
    if parts[0] == "stonith":
        from stonithd.api import fence_agent_metadata

        return fence_agent_metadata(parts[1])
    from lrmd.api import AgentSpec, agent_metadata

    if parts[0] == "ocf":
        return agent_metadata(AgentSpec("ocf", parts[2], parts[1]))
    return agent_metadata(AgentSpec(parts[0], parts[1]))
