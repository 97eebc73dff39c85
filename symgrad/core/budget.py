"""Time budgets for SymPy calls that can blow up.

``run_within(fn, seconds)`` runs ``fn()`` and raises :class:`OutOfTime` when
it takes longer. In the main thread on POSIX it uses a real-time interval
timer (``SIGALRM``), which interrupts pure-Python SymPy code between
bytecodes. Elsewhere (other threads, Windows) it runs ``fn`` in a daemon
thread and stops waiting when the time is up; the abandoned computation is
left to finish in the background, and its result is discarded.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
from typing import Callable, Iterator, TypeVar

__all__ = ["OutOfTime", "Deadline", "run_within", "cutoffs", "note_cutoff", "phase"]

T = TypeVar("T")

#: How often the clock has cut a computation short in this process, per phase (see :func:`cutoffs`).
_CUTOFFS: dict[str, int] = {}
_PHASE = "other"


def cutoffs() -> dict[str, int]:
    """How many times the clock has cut a computation short in this process, per phase.

    A phase's result computed while its count did not change never depended on
    the clock: the verdict cache (:mod:`symgrad.core.cache`) relies on this.
    """
    return dict(_CUTOFFS)


def note_cutoff() -> None:
    """Record that the clock cut a computation short (a budget ran out, a loop stopped early)."""
    _CUTOFFS[_PHASE] = _CUTOFFS.get(_PHASE, 0) + 1


@contextlib.contextmanager
def phase(name: str) -> Iterator[None]:
    """Count the cutoffs inside the block under ``name`` (e.g. ``"symbolic"``)."""
    global _PHASE
    previous, _PHASE = _PHASE, name
    try:
        yield
    finally:
        _PHASE = previous


#: After a budget runs out, the alarm fires again this often until the computation has stopped.
REARM_SECONDS = 0.05
#: A budget shorter than this is no time at all (the alarm could fire before the work starts).
MIN_SECONDS = 1e-4


class OutOfTime(Exception):
    """The time budget ran out (internal control flow, not a user error)."""


def _working_precisions() -> tuple[int, int | None]:
    """The global working precisions of mpmath and python-flint (bits)."""
    import mpmath

    try:
        from flint import ctx as flint_ctx
    except ImportError:  # pragma: no cover - python-flint is a dependency
        return mpmath.mp.prec, None
    return mpmath.mp.prec, flint_ctx.prec


def _restore_precisions(saved: tuple[int, int | None]) -> None:
    import mpmath

    mpmath_prec, flint_prec = saved
    if mpmath.mp.prec != mpmath_prec:
        mpmath.mp.prec = mpmath_prec
    if flint_prec is not None:
        from flint import ctx as flint_ctx

        if flint_ctx.prec != flint_prec:
            flint_ctx.prec = flint_prec


def _can_use_alarm() -> bool:
    return (
        hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
        and signal.getitimer(signal.ITIMER_REAL)[0] == 0.0  # no timer of someone else's
    )


def run_within(fn: Callable[[], T], seconds: float) -> T:
    """Return ``fn()``, or raise :class:`OutOfTime` after ``seconds``."""
    if seconds < MIN_SECONDS:
        note_cutoff()
        raise OutOfTime("no time left")
    if _can_use_alarm():
        running = False
        reporting = False  # the process's unraisable hook is running (see on_unraisable)

        def on_alarm(signum: int, frame: object) -> None:
            if not running:  # a stray alarm (fn has finished): stop the repetition, raise nothing
                signal.setitimer(signal.ITIMER_REAL, 0)
                return
            if reporting:  # never inside the hook that reports another error; the alarm repeats
                return
            note_cutoff()
            raise OutOfTime(f"took longer than {seconds:.3g} s")

        previous_hook = sys.unraisablehook

        def on_unraisable(unraisable: sys.UnraisableHookArgs) -> None:
            # An alarm that lands in a finalizer (a generator closed by the garbage collector, a
            # __del__) raises OutOfTime where Python cannot propagate it: Python hands it to this
            # hook. It is the budget's own control flow, not an error: drop it (the alarm repeats
            # and stops fn at the next ordinary bytecode). Anything else goes to the previous hook,
            # which no alarm interrupts.
            nonlocal reporting
            if isinstance(unraisable.exc_value, OutOfTime):
                return
            reporting = True
            try:
                previous_hook(unraisable)
            finally:
                reporting = False

        previous = signal.signal(signal.SIGALRM, on_alarm)
        precision = _working_precisions()
        sys.unraisablehook = on_unraisable
        try:
            # Armed inside the try, so that its finally always disarms it. The alarm repeats: an
            # OutOfTime raised where Python swallows exceptions (a garbage-collector callback, a
            # __del__) or caught by a broad ``except`` in a library would otherwise leave fn running
            # with no budget at all.
            running = True
            signal.setitimer(signal.ITIMER_REAL, seconds, REARM_SECONDS)
            return fn()
        finally:
            running = False  # first, and no call before it: a pending alarm is then harmless
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
            if sys.unraisablehook is on_unraisable:
                sys.unraisablehook = previous_hook
            # An alarm that lands inside mpmath's (or flint's) precision manager between setting and
            # restoring the global working precision would leave it changed for the rest of the process.
            _restore_precisions(precision)

    box: dict[str, object] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=target, daemon=True, name="symgrad-budget")
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        note_cutoff()
        raise OutOfTime(f"took longer than {seconds:.3g} s")
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


class Deadline:
    """A point in time by which a whole task (e.g. one step) must finish."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.start = time.perf_counter()
        self.end = self.start + seconds

    @property
    def remaining(self) -> float:
        return max(0.0, self.end - time.perf_counter())

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    @property
    def expired(self) -> bool:
        return self.remaining <= 0.0

    def run(self, fn: Callable[[], T], fraction: float = 1.0) -> T:
        """Run ``fn`` within ``fraction`` of the remaining time."""
        return run_within(fn, self.remaining * fraction)
