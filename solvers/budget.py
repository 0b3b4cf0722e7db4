"""Time budgets for solver calls: a call that runs past its budget stops with OutOfBudget instead of hanging.

z3 takes its budget as a timeout of its own. sympy has none, so a budget is a real-time timer
(SIGALRM) whose handler raises OutOfBudget inside the running call. Signals reach the main
thread only: elsewhere (a call from a worker thread) the budget cannot interrupt, and what bounds
the work is the language's size limits, which every program passes before it is solved.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator


class OutOfBudget(Exception):
    """A solver call that ran past its time budget."""


def _expired(signum, frame):
    raise OutOfBudget


@contextlib.contextmanager
def time_budget(seconds: float) -> Iterator[None]:
    """Raises OutOfBudget in the block once `seconds` of real time have passed (main thread only;
    a budget inside another budget keeps the outer one's timer)."""
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable or signal.getitimer(signal.ITIMER_REAL)[0] > 0:
        yield
        return
    previous = signal.signal(signal.SIGALRM, _expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous if previous is not None else signal.SIG_DFL)
