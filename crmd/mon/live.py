"""crm_mon's refreshing view: redraw the status every interval until Ctrl-C.

The shell around the pure renderer: it owns the clock (sleep) and the terminal (rich).
Colour follows crm_mon's console output: failures red, stopped/offline yellow.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.text import Text

_STYLES = (("FAILED", "bold red"), ("UNCLEAN", "bold red"), ("OFFLINE", "yellow"),
           ("Stopped", "yellow"), ("Failed Resource Actions", "bold red"))


def _styled(text: str) -> Text:
    from rich.text import Text

    out = Text()
    for line in text.split("\n"):
        style = next((s for word, s in _STYLES if word in line), "")
        out.append(line + "\n", style=style)
    return out


def run_live(render: Callable[[], str], interval: float) -> None:
    """Show render()'s output, refreshed every `interval` seconds, until interrupted."""
    from rich.console import Console
    from rich.live import Live

    console = Console()
    try:
        with Live(_styled(render()), console=console, screen=True, auto_refresh=False) as live:
            while True:
                time.sleep(interval)
                live.update(_styled(render()), refresh=True)
    except KeyboardInterrupt:
        return
