"""Ctrl-C during a Numba kernel: give the user the KeyboardInterrupt, not a SystemError.

Root cause: when a Numba-compiled function returns an array, its boxing code fetches the array
type through ``numba.core.serialize._numba_unpickle``, a Python function. A SIGINT that arrives
then is raised as KeyboardInterrupt inside that function; Numba's generated wrapper does not
check for the failure and returns its result anyway, and CPython reports that as ``SystemError:
... returned a result with an exception set``, with the KeyboardInterrupt as ``__cause__``.
The op boundaries (``Function.apply``, the backward loop) and ``training.fit`` turn such a
SystemError back into the KeyboardInterrupt it carries.
"""
from __future__ import annotations

__all__ = ["interrupt_in", "reraise_interrupt"]


def interrupt_in(exc: BaseException):
    """The KeyboardInterrupt among ``exc``'s causes/contexts (``exc`` included), or None."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ if exc.__cause__ is not None else exc.__context__
    return None


def reraise_interrupt(exc: BaseException):
    """Raise the KeyboardInterrupt that ``exc`` (a SystemError from Numba) carries, if any;
    return normally otherwise, so the caller re-raises ``exc``."""
    interrupt = interrupt_in(exc)
    if interrupt is not None:
        raise interrupt.with_traceback(interrupt.__traceback__) from None
