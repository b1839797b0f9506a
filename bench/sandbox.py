"""Benchmark 5: what reading a document in the sandboxed child process costs over reading it in process.

Every round reads each sample form twice, once with its reader called directly and once
through ``document_text``, which forks a child under the extraction limits. The paired
difference in each round is the sandbox's overhead per document. A second table times an
empty call in the sandbox while the parent has more resident memory, because a fork
copies the page tables of the whole parent (the daemon is larger than this script).

    .venv/bin/python bench/sandbox.py [--quick] [--rounds N] [--json FILE] [--ballast-mib N]
"""

from __future__ import annotations

import functools
import statistics
from dataclasses import dataclass

from harness import FIXTURES, Summary, parse_arguments, positive_int, run_interleaved, timed
from report import Report, fmt, fmt_range, package_version

from mailflow.intake.limits import DEFAULT_LIMITS
from mailflow.intake.sandbox import run_sandboxed
from mailflow.intake.sniff import sniff
from mailflow.intake.text import READERS, document_text

FULL_ROUNDS, QUICK_ROUNDS = 20, 3
FULL_REPEATS, QUICK_REPEATS = 5, 1
"""Reads of each document per round and alternative."""
DEFAULT_BALLAST_MIB = 256
QUICK_BALLAST_MIB = 32
PAGE = 4096

# One form per reader: (label, path under tests/fixtures).
DOCUMENTS = (
    ("Form 1, xlsx", "sample/forms/yoshiki1_template.xlsx"),
    ("Form 1, docx", "sample/forms/yoshiki1_template.docx"),
    ("Form 2, text PDF", "sample/forms/yoshiki2_template.pdf"),
    ("Form 1, xls (case-16)", "cases/case-16-xls-biff-form/申込書.xls"),
)


@dataclass(frozen=True)
class Document:
    """One benchmarked file: its label, bytes and sniffed type."""

    label: str
    payload: bytes
    sniffed: str


def load_documents() -> list[Document]:
    documents = []
    for label, path in DOCUMENTS:
        payload = (FIXTURES / path).read_bytes()
        documents.append(Document(label, payload, sniff(payload)))
    return documents


def read_direct(document: Document, repeats: int) -> None:
    for _ in range(repeats):
        READERS[document.sniffed](document.payload, DEFAULT_LIMITS)


def read_sandboxed(document: Document, repeats: int) -> None:
    for _ in range(repeats):
        document_text(document.payload, document.sniffed)


def empty_sandboxed(repeats: int) -> None:
    for _ in range(repeats):
        run_sandboxed(lambda: None, DEFAULT_LIMITS.max_extraction_seconds, DEFAULT_LIMITS.max_extraction_memory_bytes)


def same_text(document: Document) -> bool:
    """Return whether the sandboxed read gives the same text and grid count as the direct one."""
    direct = READERS[document.sniffed](document.payload, DEFAULT_LIMITS)
    sandboxed = document_text(document.payload, document.sniffed)
    return direct.text == sandboxed.text and len(direct.grids) == len(sandboxed.grids)


def document_table(report: Report, documents: list[Document], seconds: dict[str, list[float]], repeats: int) -> None:
    table = report.table("Reading one document: in process and in the sandbox (ms per document)",
                         ["document", "in process", "sandboxed", "min–max", "overhead", "min–max"])
    report.checks["documents"] = {}
    scale = 1000 / repeats
    for document in documents:
        direct = seconds[f"{document.label}: in process"]
        sandboxed = seconds[f"{document.label}: sandboxed"]
        overhead = Summary.of([(s - d) for s, d in zip(sandboxed, direct, strict=True)]).scaled(scale)
        direct_ms, sandboxed_ms = Summary.of(direct).scaled(scale), Summary.of(sandboxed).scaled(scale)
        table.add(document.label, fmt(direct_ms.median, 2), fmt(sandboxed_ms.median, 2), fmt_range(sandboxed_ms, 2),
                  fmt(overhead.median, 2), fmt_range(overhead, 2))
        report.checks["documents"][document.label] = {
            "same_text": same_text(document), "in_process_ms": direct_ms.as_dict(),
            "sandboxed_ms": sandboxed_ms.as_dict(), "overhead_ms": overhead.as_dict(),
        }


def fork_table(report: Report, ballast_mib: int, rounds: int, repeats: int) -> None:
    """Time an empty sandboxed call with the parent as it is and with ``ballast_mib`` more resident memory."""
    table = report.table("Empty call in the sandbox, by parent size (ms per call)",
                         ["parent", "resident MiB", "ms per call", "min–max"])
    report.checks["empty_call_ms"] = {}
    ballast = bytearray()
    for label, extra_mib in (("as started", 0), (f"with {ballast_mib} MiB more", ballast_mib)):
        ballast = bytearray(extra_mib * 1024 * 1024)
        for offset in range(0, len(ballast), PAGE):
            ballast[offset] = 1  # touch every page, so that it is resident
        measured = run_interleaved({label: functools.partial(timed, functools.partial(empty_sandboxed, repeats))},
                                   rounds)[label]
        per_call = Summary.of(measured).scaled(1000 / repeats)
        table.add(label, fmt(_resident_mib(), 0), fmt(per_call.median, 2), fmt_range(per_call, 2))
        report.checks["empty_call_ms"][label] = per_call.as_dict()


def _resident_mib() -> float:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * PAGE / (1024 * 1024)


def add_options(parser) -> None:
    parser.add_argument("--ballast-mib", type=positive_int, default=None,
                        help=f"extra resident memory of the parent for the second table, in MiB "
                             f"(default {DEFAULT_BALLAST_MIB}, or {QUICK_BALLAST_MIB} with --quick)")


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(__doc__.splitlines()[0], FULL_ROUNDS, QUICK_ROUNDS, argv, add_options)
    ballast_mib = args.ballast_mib or (QUICK_BALLAST_MIB if args.quick else DEFAULT_BALLAST_MIB)
    repeats = QUICK_REPEATS if args.quick else FULL_REPEATS
    documents = load_documents()
    report = Report("Sandbox", args)
    report.versions = {name: package_version(name) for name in ("pdfplumber", "pdfminer.six", "openpyxl", "python-docx", "xlrd")}
    alternatives = {}
    for document in documents:
        read_direct(document, 1)  # warm caches and lazy imports outside the rounds
        alternatives[f"{document.label}: in process"] = functools.partial(timed, functools.partial(read_direct, document, repeats))
        alternatives[f"{document.label}: sandboxed"] = functools.partial(timed, functools.partial(read_sandboxed, document, repeats))
    seconds = run_interleaved(alternatives, args.rounds)
    report.record_rounds(seconds)
    document_table(report, documents, seconds, repeats)
    fork_table(report, ballast_mib, args.rounds, repeats * 4)
    overheads = [entry["overhead_ms"]["median"] for entry in report.checks["documents"].values()]
    report.notes.append(
        f"Overhead is the paired difference within each round (sandboxed minus in process); its median over "
        f"the documents is {fmt(statistics.median(overheads), 2)} ms. It covers the fork, the limits set in "
        "the child, pickling the result back and reaping the child.")
    report.finish()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
