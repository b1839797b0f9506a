"""Run one document reader in a forked child process under a memory limit and a wall-clock timeout.

A hostile file can make a parser run for hours, allocate until the machine swaps, or
crash in C code. The reader therefore runs in a child forked from the daemon
(``multiprocessing`` with the fork start method, so nothing is imported again). The
child lowers its own RLIMIT_AS to what it already maps plus the memory budget, and its
RLIMIT_CPU to just above the timeout, so that it dies on its own even when the parent is
gone. The parent waits for the result until the timeout and kills the child past it.
Only the returned value crosses back, pickled, so it must be plain data.

Linux only: the address-space limit needs /proc/self/statm and is not enforced by every
kernel (macOS ignores RLIMIT_AS). A fork copies only the calling thread, so a lock that
another thread held at that moment stays locked in the child. The timeout ends a child
that blocks on such a lock.
"""

from __future__ import annotations

import contextlib
import logging
import math
import multiprocessing
import os
import resource
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from mailflow.intake.limits import LimitExceeded

logger = logging.getLogger(__name__)

T = TypeVar("T")

# How long a child that closed its end of the pipe may take to exit before it is killed.
_EXIT_GRACE_SECONDS = 2.0
# Seconds of CPU time the child may use beyond the timeout before the kernel stops it.
_CPU_MARGIN_SECONDS = 1
# Exit status of a child that ran out of memory; multiprocessing itself uses 0 and 1.
_EXIT_OUT_OF_MEMORY = 3
_VALUE, _ERROR = "value", "error"


@dataclass(frozen=True)
class SandboxResult(Generic[T]):
    """What came back from a sandboxed call: the value, or the limit it hit, or why it crashed.

    Exactly one field is set. ``exceeded`` names ``max_extraction_seconds`` or
    ``max_extraction_memory_bytes``. ``crash`` describes in English how the child ended
    without a result (an exception's type, or the signal that killed it).
    """

    value: T | None = None
    exceeded: LimitExceeded | None = None
    crash: str | None = None


def run_sandboxed(function: Callable[[], T], seconds: float, memory_bytes: int) -> SandboxResult[T]:
    """Call ``function()`` in a forked child with ``memory_bytes`` more address space and ``seconds`` of time.

    Never raises for anything the child does. The child is always gone when this returns,
    including when the caller is interrupted (KeyboardInterrupt) while waiting.
    """
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child_main, args=(function, sender, seconds, memory_bytes),
                              name="mailflow-document-reader")
    _flush_standard_streams()
    started = time.monotonic()
    process.start()
    sender.close()
    try:
        result = _await_result(process, receiver, seconds, memory_bytes)
    finally:
        receiver.close()
        if process.is_alive():
            process.kill()
        process.join()
        process.close()
    logger.debug("sandboxed call finished: seconds=%.3f exceeded=%s crash=%s", time.monotonic() - started,
                 result.exceeded.limit if result.exceeded else None, result.crash)
    return result


def _await_result(process, receiver, seconds: float, memory_bytes: int) -> SandboxResult:
    if not receiver.poll(seconds):
        logger.warning("document reader stopped at the time limit: seconds=%s pid=%s", seconds, process.pid)
        return SandboxResult(exceeded=LimitExceeded("max_extraction_seconds", None, seconds))
    try:
        tag, value = receiver.recv()
    except (EOFError, OSError):
        process.join(_EXIT_GRACE_SECONDS)
        return _without_result(process.exitcode, seconds, memory_bytes)
    if tag == _ERROR:
        logger.error("document reader raised %s", value)
        return SandboxResult(crash=f"the reader raised {value}")
    return SandboxResult(value=value)


def _without_result(exitcode: int | None, seconds: float, memory_bytes: int) -> SandboxResult:
    """Explain a child that closed the pipe without sending a result."""
    if exitcode == _EXIT_OUT_OF_MEMORY:
        logger.warning("document reader stopped at the memory limit: bytes=%s", memory_bytes)
        return SandboxResult(exceeded=LimitExceeded("max_extraction_memory_bytes", None, memory_bytes))
    if exitcode == -signal.SIGXCPU:
        logger.warning("document reader stopped at the CPU time limit: seconds=%s", seconds)
        return SandboxResult(exceeded=LimitExceeded("max_extraction_seconds", None, seconds))
    if exitcode == -signal.SIGKILL:
        # While the parent waits, only the kernel's out-of-memory killer sends SIGKILL.
        logger.warning("document reader killed by the kernel, most likely out of memory")
        return SandboxResult(exceeded=LimitExceeded("max_extraction_memory_bytes", None, memory_bytes))
    described = f"signal {signal.Signals(-exitcode).name}" if exitcode and exitcode < 0 else f"exit code {exitcode}"
    logger.error("document reader ended without a result: %s", described)
    return SandboxResult(crash=f"the reader process ended without a result ({described})")


def _child_main(function: Callable[[], object], sender, seconds: float, memory_bytes: int) -> None:
    """Run in the child: apply the limits, call ``function`` and send back what happened.

    Running out of memory ends the child with :data:`_EXIT_OUT_OF_MEMORY` at once, because
    after a MemoryError even pickling a small message can fail for want of memory.
    """
    _limit_child(seconds, memory_bytes)
    try:
        message = (_VALUE, function())
    except MemoryError:
        os._exit(_EXIT_OUT_OF_MEMORY)
    except BaseException as exc:  # the parent reports it; a traceback here would reach no one
        message = (_ERROR, type(exc).__name__)
    try:
        sender.send(message)
    except MemoryError:
        os._exit(_EXIT_OUT_OF_MEMORY)
    sender.close()


def _limit_child(seconds: float, memory_bytes: int) -> None:
    _set_limit(resource.RLIMIT_CORE, 0, 0)
    # The kernel sends SIGXCPU at the soft limit and SIGKILL at the hard one. A hard limit
    # one second later keeps SIGKILL meaning "out of memory" in _without_result.
    cpu_seconds = math.ceil(seconds) + _CPU_MARGIN_SECONDS
    _set_limit(resource.RLIMIT_CPU, cpu_seconds, cpu_seconds + 1)
    mapped = _mapped_bytes()
    if mapped is not None:
        _set_limit(resource.RLIMIT_AS, mapped + memory_bytes, mapped + memory_bytes)


def _set_limit(kind: int, soft: int, hard: int) -> None:
    """Lower the limits of ``kind`` to ``soft`` and ``hard``, never above the current hard limit."""
    current_hard = resource.getrlimit(kind)[1]
    if current_hard != resource.RLIM_INFINITY:
        soft, hard = min(soft, current_hard), min(hard, current_hard)
    resource.setrlimit(kind, (soft, hard))


def _mapped_bytes() -> int | None:
    """Return the process's current address-space size (VmSize), or None where /proc is missing."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            pages = int(statm.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


def _flush_standard_streams() -> None:
    # The child flushes the standard streams when it exits; text still buffered in the
    # parent would then be written twice.
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
