"""prompt_toolkit glue for the interactive crm shell: completer and history.

Kept apart so that `crm <command>` never imports prompt_toolkit (start-up time).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.history import FileHistory, InMemoryHistory

from crmd.shell.session import Session


class ShellCompleter(Completer):
    """Completes the word under the cursor with crmd.shell.interactive.complete."""

    def __init__(self, state: Session, level: Callable[[], str]) -> None:
        self.state = state
        self.level = level

    def get_completions(self, document: Document,
                        complete_event: CompleteEvent) -> Iterable[Completion]:
        from crmd.shell.interactive import complete

        before = document.text_before_cursor
        word = document.get_word_before_cursor(WORD=True)
        for candidate in complete(self.level(), before, self.state):
            yield Completion(candidate, start_position=-len(word))


def _history() -> FileHistory | InMemoryHistory:
    path = Path(os.environ.get("HOME", "/root")) / ".crm_history"
    try:
        path.touch(exist_ok=True)
    except OSError:
        return InMemoryHistory()
    return FileHistory(str(path))


def make_prompt_session(state: Session, level: Callable[[], str]) -> PromptSession[str]:
    # Completion may run an agent's meta-data (asyncio.run in the lrmd's runner), which
    # cannot happen inside prompt_toolkit's own event loop: complete in a worker thread.
    return PromptSession(completer=ShellCompleter(state, level), history=_history(),
                         complete_while_typing=False, complete_in_thread=True)
