"""crm_simulate's entry point: pengine's command line, with -L/--live-check reading the CIB
the way every other tool does (cib.backend through crmd.cibaccess: CIB_file's file when
set, else the local cib daemon).

The engine's package stays free of sockets and files it was not named; this shell hands it
the one function that fetches the live CIB.
"""

from __future__ import annotations

from typing import NoReturn


def live_cib_text() -> bytes:
    """The whole current CIB as XML text (CibUnavailable when it cannot be had)."""
    from cib.api import cib_text
    from crmd.cibaccess import read_cib

    return cib_text(read_cib()).encode()


def main(argv: list[str] | None = None) -> NoReturn:
    import gc

    # A short-lived run that allocates tens of thousands of long-lived objects (unpacked
    # CIB, actions, graph): with the default young-generation threshold (700) the cycle
    # collector runs ~100 times at 100 primitives, 2% of a `-R -Q -G` run's instructions.
    gc.set_threshold(50_000, 20, 10)
    from pengine.api import crm_simulate_main

    try:
        crm_simulate_main(argv, live_cib_text)
    except SystemExit as done:
        if argv is not None or not isinstance(done.code, int):
            raise
        # the console script: nothing runs after this process's output, so the teardown of
        # the engine's objects (~10 ms CPU at 100 primitives) is skipped
        from messaging.tool_exit import exit_now

        exit_now(done.code)


if __name__ == "__main__":
    main()
