"""Benchmark 2: time of ``analyze`` per kind of message, the stage that dominates, and a profile.

The mails are picked from the sample mailbox by their expected JSON: registrations whose
Form 1 is an xlsx, a docx or a text PDF, an automatic reply and a bounce. Outside
``--quick``, the whole mailbox adds the average of a real mix. Three passes follow:

1. timing: rounds of every kind, interleaved, each kind repeated to about
   ``target`` seconds per round;
2. stages: one pass with the stage functions wrapped (see ``STAGES``), which shows the
   exclusive time of each stage;
3. profile: one cProfile run per kind, whose top entries by own time are listed.

    .venv/bin/python bench/analysis.py [--quick] [--rounds N] [--json FILE]
"""

from __future__ import annotations

import cProfile
import functools
import json
import math
import pstats
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from harness import REPO, StageClock, Summary, parse_arguments, run_interleaved, timed
from report import Report, fmt, fmt_range

from mailflow.intake import analyze as analyze_module
from mailflow.intake import documents as documents_module
from mailflow.intake.analyze import IntakeRules, analyze, load_intake_rules

from decoders import SAMPLE_MAILBOX

FULL_ROUNDS, QUICK_ROUNDS = 10, 3
FULL_TARGET_SECONDS, QUICK_TARGET_SECONDS = 0.2, 0.02
PROFILE_TOP = 5

# (module, function name, stage label). A stage's time excludes the stages called inside it.
STAGES = (
    (analyze_module, "analyze", "other analysis"),
    (analyze_module, "parse_message", "parse MIME and charsets"),
    (analyze_module, "screen_message", "classify message"),
    (analyze_module, "classify_message", "classify message"),
    (analyze_module, "read_document", "other document work"),
    (documents_module, "document_text", "extract document text"),
    (documents_module, "classify_document", "classify document"),
    (documents_module, "scan_document", "individual-number scan"),
    (documents_module, "read_registration", "read Form 1"),
    (analyze_module, "check_eligibility", "eligibility"),
    (analyze_module, "_mask_stored_text", "mask stored copy"),
    (analyze_module, "remove_parts", "remove parts"),
)


@dataclass(frozen=True)
class KindMail:
    """One benchmarked kind: its label and the raw mails analysed for it."""

    label: str
    mails: list[bytes]


def pick_kinds(whole_mailbox: bool) -> list[KindMail]:
    """Pick one sample mail per kind from the expected JSON, plus the whole mailbox if ``whole_mailbox``."""
    specs = [(path, json.loads(path.with_suffix(".json").read_text(encoding="utf-8")))
             for path in sorted(SAMPLE_MAILBOX.glob("*.eml"))]
    selectors = [
        ("registration, Form 1 as xlsx", lambda s: _form_format(s) == "xlsx"),
        ("registration, Form 1 as docx", lambda s: _form_format(s) == "docx"),
        ("registration, Form 1 as text PDF", lambda s: _form_format(s) == "pdf_text"),
        ("automatic reply", lambda s: s["message_kind"] == "auto_reply"),
        ("bounce", lambda s: s["message_kind"] == "bounce"),
    ]
    kinds = []
    for label, matches in selectors:
        path = next(path for path, spec in specs if matches(spec))
        kinds.append(KindMail(f"{label} ({path.stem})", [path.read_bytes()]))
    if whole_mailbox:
        kinds.append(KindMail(f"whole sample mailbox, per mail ({len(specs)} mails)", [p.read_bytes() for p, _ in specs]))
    return kinds


def _form_format(spec: dict) -> str | None:
    """Return the format of the mail's Form 1 attachment; a renewal sends the same form."""
    for attachment in spec["attachments"]:
        if attachment.get("role") == "registration_form":
            return attachment["format"]
    return None


def analyze_all(mails: list[bytes], rules: IntakeRules, repeats: int) -> None:
    for _ in range(repeats):
        for raw in mails:
            analyze(raw, rules)


def repeats_for(kind: KindMail, rules: IntakeRules, target: float) -> int:
    """Return how often to analyse ``kind`` per round for about ``target`` seconds; warms caches too."""
    once = timed(lambda: analyze_all(kind.mails, rules, 1))
    return max(1, math.ceil(target / once)) if once < target else 1


@contextmanager
def stage_clock():
    """Wrap every function of ``STAGES`` in a StageClock for the duration of the block."""
    clock = StageClock()
    saved = []
    for module, name, label in STAGES:
        original = getattr(module, name)
        saved.append((module, name, original))
        setattr(module, name, clock.wrap(label, original))
    try:
        yield clock
    finally:
        for module, name, original in reversed(saved):
            setattr(module, name, original)


def time_table(report: Report, kinds: list[KindMail], seconds: dict[str, list[float]], repeats: dict[str, int]) -> None:
    table = report.table("analyze() per message", ["kind", "ms per message", "min–max", "spread"])
    report.checks["ms_per_message"] = {}
    for kind in kinds:
        per_message = Summary.of(seconds[kind.label]).scaled(1000 / (repeats[kind.label] * len(kind.mails)))
        table.add(kind.label, fmt(per_message.median, 2), fmt_range(per_message, 2), f"{per_message.spread_percent:.0f}%")
        report.checks["ms_per_message"][kind.label] = per_message.as_dict()


def stage_table(report: Report, kinds: list[KindMail], rules: IntakeRules, repeats: dict[str, int]) -> None:
    """Add the exclusive time of each stage per kind, in ms per message and as a share of the total."""
    labels = list(dict.fromkeys(label for _, _, label in STAGES))
    rows = {}
    with stage_clock() as clock:
        for kind in kinds:
            clock.reset()
            analyze_all(kind.mails, rules, repeats[kind.label])
            count = repeats[kind.label] * len(kind.mails)
            rows[kind.label] = {label: 1000 * clock.totals.get(label, 0.0) / count for label in labels}
    used = [label for label in labels if any(row[label] >= 0.05 for row in rows.values())]
    table = report.table("Stages of analyze(), ms per message (share of the total)", ["kind", *used, "dominant stage"])
    report.checks["stages"] = rows
    for kind in kinds:
        row = rows[kind.label]
        total = sum(row.values())
        cells = [f"{fmt(row[label], 2)} ({100 * row[label] / total:.0f}%)" for label in used]
        table.add(kind.label, *cells, max(row, key=row.get))


def profile_table(report: Report, kinds: list[KindMail], rules: IntakeRules) -> None:
    """Profile one analysis of each single-mail kind with cProfile and list the top entries by own time."""
    table = report.table(f"cProfile, top {PROFILE_TOP} functions by own time (one analysis each)",
                         ["kind", "function", "own ms", "cumulative ms", "calls"])
    report.checks["profile"] = {}
    for kind in kinds:
        if len(kind.mails) != 1:
            continue
        profiler = cProfile.Profile()
        profiler.runcall(analyze_all, kind.mails, rules, 1)
        stats = pstats.Stats(profiler).stats
        top = sorted(stats.items(), key=lambda item: item[1][2], reverse=True)[:PROFILE_TOP]
        report.checks["profile"][kind.label] = [_function_name(key) for key, _ in top]
        for key, (_, calls, own, cumulative, _) in top:
            table.add(kind.label, _function_name(key), fmt(1000 * own, 2), fmt(1000 * cumulative, 2), f"{calls:,}")


def _function_name(key: tuple[str, int, str]) -> str:
    """Return ``package/module.py:function`` for a pstats key, shortened to the package path."""
    filename, line, function = key
    if filename == "~":
        return function  # a built-in, e.g. "<method 'read' of '_io.BufferedReader' objects>"
    path = Path(filename)
    for marker in ("site-packages", "lib"):
        if marker in path.parts:
            index = len(path.parts) - 1 - path.parts[::-1].index(marker)
            return f"{'/'.join(path.parts[index + 1:])}:{function}"
    try:
        return f"{path.relative_to(REPO)}:{function}"
    except ValueError:
        return f"{path.name}:{line}:{function}"


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(__doc__.splitlines()[0], FULL_ROUNDS, QUICK_ROUNDS, argv)
    rules = load_intake_rules(REPO / "rules")
    # The whole mailbox takes about a second per round, too long for --quick.
    kinds = pick_kinds(whole_mailbox=not args.quick)
    target = QUICK_TARGET_SECONDS if args.quick else FULL_TARGET_SECONDS
    repeats = {kind.label: repeats_for(kind, rules, target) for kind in kinds}
    report = Report("Analysis", args)
    report.checks["kinds"] = {kind.label: analyze(kind.mails[0], rules).kind for kind in kinds if len(kind.mails) == 1}
    alternatives = {kind.label: functools.partial(timed, functools.partial(analyze_all, kind.mails, rules,
                                                                          repeats[kind.label]))
                    for kind in kinds}
    seconds = run_interleaved(alternatives, args.rounds)
    report.record_rounds(seconds)
    time_table(report, kinds, seconds, repeats)
    stage_table(report, kinds, rules, repeats)
    profile_table(report, kinds, rules)
    report.notes.append(
        "Stage times come from wrapping the stage functions (a few microseconds per call); the "
        "profile runs under cProfile, which slows Python-heavy code several times, so read its "
        "entries as proportions, not as times of an unprofiled run.")
    report.finish()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
