"""Shared parts of the benchmark scripts: arguments, interleaved rounds, statistics, tables.

Every script measures its alternatives in one process, one after the other inside each
round, with the order rotated from round to round, so that warm-up, caches and load from
other processes fall on every alternative alike. A result is the median of the rounds,
shown with the lowest and the highest round. A ratio between two alternatives is
computed within each round and then summarised the same way.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    # The scripts reuse the test servers and fixtures of tests/, which live beside mailflow.
    sys.path.insert(0, str(REPO))

FIXTURES = REPO / "tests" / "fixtures"


def parse_arguments(description: str, full_rounds: int, quick_rounds: int, argv: list[str] | None = None,
                    add_options: Callable[[argparse.ArgumentParser], None] | None = None) -> argparse.Namespace:
    """Parse the options every script takes (``--quick``, ``--rounds``, ``--json``) and those ``add_options`` adds."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true",
                        help=f"a small run of a few seconds ({quick_rounds} rounds, small inputs) that checks the script works")
    parser.add_argument("--rounds", type=positive_int, default=None,
                        help=f"number of measured rounds (default {full_rounds}, or {quick_rounds} with --quick)")
    parser.add_argument("--json", type=Path, default=None, metavar="FILE",
                        help="also write the tables and the checked values to FILE as JSON")
    if add_options is not None:
        add_options(parser)
    args = parser.parse_args(argv)
    if args.rounds is None:
        args.rounds = quick_rounds if args.quick else full_rounds
    return args


def positive_int(text: str) -> int:
    """Parse an option value that must be a whole number of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


# Statistics ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    """Median, lowest and highest of the values measured in several rounds."""

    median: float
    low: float
    high: float
    count: int

    @classmethod
    def of(cls, values: list[float]) -> Summary:
        if not values:
            raise ValueError("a summary needs at least one value")
        return cls(statistics.median(values), min(values), max(values), len(values))

    def scaled(self, factor: float) -> Summary:
        """Return the summary of every value times ``factor``, e.g. seconds per batch to ms per mail."""
        return Summary(self.median * factor, self.low * factor, self.high * factor, self.count)

    def rate(self, count: float) -> Summary:
        """Return the summary of ``count / value``, e.g. seconds per batch to mails per second.

        The slowest round gives the lowest rate, so low and high change places.
        """
        return Summary(count / self.median, count / self.high, count / self.low, self.count)

    @property
    def spread_percent(self) -> float:
        """Range of the rounds as a percentage of the median."""
        return 100.0 * (self.high - self.low) / self.median if self.median else 0.0

    def as_dict(self) -> dict[str, float]:
        return {"median": self.median, "low": self.low, "high": self.high, "rounds": self.count}


def run_interleaved(alternatives: dict[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    """Call every alternative once per round and return the seconds each call reported.

    Each callable does its own untimed preparation and returns the seconds of the part
    it measures. The order rotates every round, so no alternative always runs first.
    """
    names = list(alternatives)
    measured: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(rounds):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            gc.collect()
            measured[name].append(alternatives[name]())
    return measured


def paired_ratios(values: list[float], baseline: list[float]) -> Summary:
    """Summarise ``values[i] / baseline[i]``: the ratio of two alternatives within each round."""
    return Summary.of([value / base for value, base in zip(values, baseline, strict=True)])


def timed(function: Callable[[], object]) -> float:
    """Return the seconds ``function()`` took on the monotonic performance counter."""
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


# Time per stage -------------------------------------------------------------------------


@dataclass
class StageClock:
    """Exclusive time per stage, collected by wrapping the functions of each stage.

    A stage called inside another is subtracted from the outer one, so the totals add
    up to the time spent inside any wrapped function.
    """

    totals: dict[str, float] = field(default_factory=dict)
    _child_time: list[float] = field(default_factory=list)

    def reset(self) -> None:
        self.totals.clear()

    def _enter(self) -> float:
        self._child_time.append(0.0)
        return time.perf_counter()

    def _leave(self, stage: str, start: float) -> None:
        elapsed = time.perf_counter() - start
        inner = self._child_time.pop()
        self.totals[stage] = self.totals.get(stage, 0.0) + elapsed - inner
        if self._child_time:
            self._child_time[-1] += elapsed

    def wrap(self, stage: str, function: Callable) -> Callable:
        def measured(*args, **kwargs):
            start = self._enter()
            try:
                return function(*args, **kwargs)
            finally:
                self._leave(stage, start)
        return measured

    def wrap_async(self, stage: str, function: Callable) -> Callable:
        """Wrap a coroutine function; correct only while one task runs at a time, as in the sender."""
        async def measured(*args, **kwargs):
            start = self._enter()
            try:
                return await function(*args, **kwargs)
            finally:
                self._leave(stage, start)
        return measured

    def wrap_iterator(self, stage: str, function: Callable[..., Iterator]) -> Callable[..., Iterator]:
        """Wrap a generator function so that the time inside each ``next()`` counts for ``stage``."""
        def measured(*args, **kwargs):
            iterator = iter(function(*args, **kwargs))
            while True:
                start = self._enter()
                try:
                    item = next(iterator)
                except StopIteration:
                    return
                finally:
                    self._leave(stage, start)
                yield item
        return measured
