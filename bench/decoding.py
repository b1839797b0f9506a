"""Benchmark 1: decoding speed of parse_message against the stdlib email parser and mail-parser.

Each round decodes the sample mailbox and the case mails with every decoder, in rotating
order, and reads the same fields from each result (see ``decoders``). Afterwards every
decoder's fields are compared with the fixtures' expected values, so the table shows what
the extra time buys.

    .venv/bin/python bench/decoding.py [--quick] [--rounds N] [--json FILE]
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from harness import Summary, paired_ratios, parse_arguments, run_interleaved, timed
from report import Report, fmt, fmt_range, package_version

from decoders import BASELINE, DECODERS, CorpusMail, Decoded, case_corpus, expected_fields, field_checks, sample_corpus

FULL_ROUNDS, QUICK_ROUNDS = 15, 3
FULL_PASSES, QUICK_PASSES = 5, 1
"""Passes over each corpus per round: enough for a round of about a tenth of a second."""


def decode_all(decoder: Callable[[bytes], Decoded], corpus: list[CorpusMail], passes: int) -> None:
    """Decode every mail ``passes`` times; a decoder's exception ends that mail only, as in a poll loop."""
    for _ in range(passes):
        for mail in corpus:
            try:
                decoder(mail.raw)
            except Exception:  # counted by check_decoder; the time spent until the error still counts
                pass


def check_decoder(decoder: Callable[[bytes], Decoded], corpus: list[CorpusMail]) -> dict[str, list]:
    """Return the checks made, the ``[mail, field]`` pairs that were wrong and the ``[mail, error]`` crashes."""
    checked, wrong, crashes = 0, [], []
    for mail in corpus:
        try:
            results = field_checks(decoder(mail.raw), mail.expected)
        except Exception as error:
            fields = expected_fields(mail.expected)
            checked += len(fields)
            wrong.extend([mail.name, name] for name in fields)
            crashes.append([mail.name, _error_name(error)])
            continue
        checked += len(results)
        wrong.extend([mail.name, name] for name, ok in results.items() if not ok)
    return {"checked": checked, "wrong": wrong, "crashes": crashes}


def _error_name(error: Exception) -> str:
    """Return the exception's class with its module unless built in, e.g. ``binascii.Error``."""
    module = type(error).__module__
    name = type(error).__qualname__
    return name if module == "builtins" else f"{module}.{name}"


def measure(corpora: dict[str, list[CorpusMail]], rounds: int, passes: int) -> dict[tuple[str, str], list[float]]:
    """Return the seconds per round of every (decoder, corpus) pair, measured interleaved."""
    alternatives = {}
    for decoder_name, decoder in DECODERS.items():
        for corpus_name, corpus in corpora.items():
            alternatives[f"{decoder_name}\t{corpus_name}"] = functools.partial(
                timed, functools.partial(decode_all, decoder, corpus, passes))
    measured = run_interleaved(alternatives, rounds)
    return {tuple(key.split("\t")): values for key, values in measured.items()}


def speed_table(report: Report, corpora: dict[str, list[CorpusMail]], seconds: dict, passes: int) -> None:
    table = report.table(
        "Decoding speed (mails per second; time relative to parse_message, measured in the same round)",
        ["corpus", "decoder", "mails/s median", "min–max", "ms per mail", "time vs parse_message", "min–max"])
    report.checks["speed"] = {}
    for corpus_name, corpus in corpora.items():
        baseline = seconds[(BASELINE, corpus_name)]
        for decoder_name in DECODERS:
            values = seconds[(decoder_name, corpus_name)]
            rate = Summary.of(values).rate(len(corpus) * passes)
            ratio = paired_ratios(values, baseline)
            table.add(corpus_name, decoder_name, fmt(rate.median, 0), fmt_range(rate, 0),
                      fmt(1000 / rate.median, 2), f"{ratio.median:.2f}×", f"{ratio.low:.2f}–{ratio.high:.2f}")
            report.checks["speed"][f"{decoder_name} / {corpus_name}"] = rate.as_dict()


def correctness_tables(report: Report, corpus: list[CorpusMail]) -> None:
    results = {name: check_decoder(decoder, corpus) for name, decoder in DECODERS.items()}
    report.checks["correctness"] = results
    summary = report.table("Fields decoded wrong (compared with the fixtures' expected values)",
                           ["decoder", "wrong fields", "checked fields", "mails wrong", "crashes"])
    for name, result in results.items():
        mails = {mail for mail, _ in result["wrong"]}
        summary.add(name, len(result["wrong"]), result["checked"], f"{len(mails)} of {len(corpus)}", len(result["crashes"]))
    detail = report.table("Where the other decoders get it wrong", ["decoder", "mail", "wrong fields"])
    for name, result in results.items():
        crashed = dict(result["crashes"])
        by_mail: dict[str, list[str]] = {}
        for mail, field_name in result["wrong"]:
            by_mail.setdefault(mail, []).append(field_name)
        for mail, fields in by_mail.items():
            text = f"raised {crashed[mail]}" if mail in crashed else ", ".join(fields)
            detail.add(name, mail, text)


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(__doc__.splitlines()[0], FULL_ROUNDS, QUICK_ROUNDS, argv)
    # mail-parser logs a warning for every part type it does not know (text/rfc822-headers).
    logging.getLogger("mailparser").setLevel(logging.ERROR)
    samples, cases = sample_corpus(), case_corpus()
    corpora = {
        f"sample mailbox ({len(samples)} mails, {sum(len(m.raw) for m in samples) // 1024} KiB)": samples,
        f"case mails ({len(cases)} mails, {sum(len(m.raw) for m in cases) // 1024} KiB)": cases,
    }
    passes = QUICK_PASSES if args.quick else FULL_PASSES
    report = Report("Decoding", args, versions={"mail-parser": package_version("mail-parser")})
    seconds = measure(corpora, args.rounds, passes)
    report.record_rounds({f"{decoder} / {corpus}": values for (decoder, corpus), values in seconds.items()})
    speed_table(report, corpora, seconds, passes)
    correctness_tables(report, samples + cases)
    report.notes.append(
        "Every decoder reads the same fields: subject, sender, Message-ID, date, the text/plain "
        "body and the top-level files with their bytes. `body readable` fails when the body text "
        "still holds ISO-2022-JP escapes or U+FFFD; every other field is compared with the "
        "fixtures' JSON. A crash counts every field of that mail as wrong.")
    report.finish()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
