"""Time budgets for solver calls: a call that runs past its budget stops with OutOfBudget instead of hanging.

z3 takes its budget as a timeout of its own. sympy has none, so a budget is a real-time timer
(SIGALRM) whose handler raises OutOfBudget inside the running call. Once, in a whole test run, a
0.2 s solve ran on for many minutes: code that catches every Exception would lose an OutOfBudget,
so it is a BaseException, as KeyboardInterrupt is, and a timer already running no longer turns a
budget off (the block gets the sooner of the two). Signals
reach the main thread only: elsewhere (a call from a worker thread) the budget cannot interrupt,
and what bounds the work is the language's size limits, which every program passes before it is
solved.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from typing import Iterator


class OutOfBudget(BaseException):
    """A solver call that ran past its time budget (not an Exception: library code that catches
    every Exception must not swallow it)."""


def _expired(signum, frame):
    raise OutOfBudget


@contextlib.contextmanager
def time_budget(seconds: float) -> Iterator[None]:
    """Raises OutOfBudget in the block once `seconds` of real time have passed (main thread only).

    A timer already running (an outer budget, or anyone's) is respected: the block gets the
    smaller of the two, and the outer timer goes on afterwards with what it had left, its own
    handler back in place."""
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return
    outer, _ = signal.getitimer(signal.ITIMER_REAL)
    if outer and outer <= seconds:  # the outer timer ends first: it bounds this block too
        yield
        return
    started = time.monotonic()
    previous = signal.signal(signal.SIGALRM, _expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous if previous is not None else signal.SIG_DFL)
        if outer:
            signal.setitimer(signal.ITIMER_REAL, max(outer - (time.monotonic() - started), 1e-3))
