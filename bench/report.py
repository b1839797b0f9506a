"""Output of the benchmark scripts: the machine the numbers come from, Markdown tables and a JSON copy."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from harness import REPO, Summary


# Machine and versions -----------------------------------------------------------------


def cpu_model() -> str:
    """Return the first ``model name`` of /proc/cpuinfo, or the platform's processor name."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_info() -> dict[str, object]:
    """Return what the numbers depend on: CPU, cores, Python, OS, date and load average."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "os": platform.platform(),
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "load_average_1min_at_start": round(os.getloadavg()[0], 2),
    }


# Output -------------------------------------------------------------------------------


@dataclass
class Table:
    """A titled table, printed as Markdown so that it can be pasted into BENCHMARKS.md."""

    title: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)

    def add(self, *cells: object) -> None:
        if len(cells) != len(self.headers):
            raise ValueError(f"row has {len(cells)} cells, table {self.title!r} has {len(self.headers)} columns")
        self.rows.append([str(cell) for cell in cells])

    def render(self) -> str:
        widths = [max(len(row[i]) for row in [self.headers, *self.rows]) for i in range(len(self.headers))]
        lines = [f"### {self.title}", ""]
        lines.append("| " + " | ".join(h.ljust(w) for h, w in zip(self.headers, widths)) + " |")
        lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
        for row in self.rows:
            lines.append("| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths)) + " |")
        return "\n".join(lines)


@dataclass
class Report:
    """The output of one run (machine, tables, notes, checked values), printed and, with ``--json``, written."""

    benchmark: str
    args: argparse.Namespace
    versions: dict[str, str] = field(default_factory=dict)
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checks: dict[str, object] = field(default_factory=dict)
    machine: dict[str, object] = field(default_factory=machine_info)

    def table(self, title: str, headers: list[str]) -> Table:
        table = Table(title, headers)
        self.tables.append(table)
        return table

    def record_rounds(self, seconds: dict[str, list[float]]) -> None:
        """Keep the raw seconds of every round in the JSON output, for a reader who doubts a median."""
        self.checks["seconds_per_round"] = {name: [round(value, 6) for value in values] for name, values in seconds.items()}

    def finish(self) -> None:
        """Print the report and write the JSON file when ``--json`` was given."""
        # The load at the end shows whether other processes competed during the run.
        self.machine["load_average_1min_at_end"] = round(os.getloadavg()[0], 2)
        mode = "quick" if self.args.quick else "full"
        print(f"## {self.benchmark} ({mode}, {self.args.rounds} rounds)")
        print()
        print(f"Command: {command_line()}")
        print("Machine: " + ", ".join(f"{key} {value}" for key, value in self.machine.items()))
        if self.versions:
            print("Versions: " + ", ".join(f"{key} {value}" for key, value in self.versions.items()))
        for table in self.tables:
            print()
            print(table.render())
        for note in self.notes:
            print()
            print(note)
        if self.args.json is not None:
            self.args.json.write_text(json.dumps(self.as_dict(), ensure_ascii=False, indent=2), encoding="utf-8")

    def as_dict(self) -> dict[str, object]:
        return {
            "benchmark": self.benchmark,
            "quick": self.args.quick,
            "rounds": self.args.rounds,
            "command": command_line(),
            "machine": self.machine,
            "versions": self.versions,
            "tables": [{"title": t.title, "headers": t.headers, "rows": t.rows} for t in self.tables],
            "notes": self.notes,
            "checks": self.checks,
        }


def command_line() -> str:
    script = Path(sys.argv[0]).resolve()
    try:
        script = script.relative_to(REPO)
    except ValueError:
        pass
    return " ".join([".venv/bin/python", str(script), *sys.argv[1:]])


def fmt(value: float, digits: int = 1) -> str:
    """Format ``value`` with thousands separators and ``digits`` decimals."""
    return f"{value:,.{digits}f}"


def fmt_range(summary: Summary, digits: int = 1) -> str:
    """Format the lowest and highest round, e.g. ``"812.3–845.0"``."""
    return f"{fmt(summary.low, digits)}–{fmt(summary.high, digits)}"
