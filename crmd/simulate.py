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
    if argv is None:
        # The console script, a one-shot process: almost everything it allocates lives until
        # it ends, so the collector's full passes only walk a growing heap (at 16 nodes x
        # 2000 primitives -R -Q -G: 2.10 -> 1.62 s CPU without them, peak RSS 183 -> 228 MiB;
        # -S 3.11 -> 2.74 s, 376 -> 380 MiB: the cyclic garbage it leaves is small).
        gc.disable()
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
