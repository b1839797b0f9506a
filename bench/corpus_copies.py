"""Copies of the sample mailbox that intake takes as new mail: own Message-IDs, senders and bytes.

A copy rewrites, everywhere in the raw bytes, every sample Message-ID (so a reply still
points at its copied original) and every sample sender's address (so each copy is a
different applicant and joins no other copy's review item). Attachments are base64 and
stay byte for byte the same, so analysis does the same work on every copy.
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.integration.harness import SampleMail, sample_mails


def sample_copies(copies: int, tag: str) -> list[bytes]:
    """Return ``copies`` copies of the 16 sample mails, in mailbox order within each copy.

    ``tag`` goes into every rewritten Message-ID and address, e.g. ``"r2"`` gives
    ``<r2c0.000101dd…@example.jp>`` and ``taro.yamada+r2c0@example.jp``.
    """
    mails = sample_mails()
    result = []
    for copy in range(copies):
        marker = f"{tag}c{copy}"
        result.extend(_rewrite(mail.raw, mails, marker) for mail in mails)
    return result


def _rewrite(raw: bytes, mails: list[SampleMail], marker: str) -> bytes:
    for mail in mails:
        message_id = mail.expected["message_id"].encode("ascii")
        raw = raw.replace(message_id, b"<" + marker.encode("ascii") + b"." + message_id[1:])
        local, _, domain = mail.expected["from"]["email"].partition("@")
        raw = raw.replace(f"{local}@{domain}".encode("ascii"), f"{local}+{marker}@{domain}".encode("ascii"))
    return raw


def deliver_to_maildir(maildir: Path, raws: list[bytes]) -> None:
    """Write each message into ``new/`` with increasing mtimes, as an MTA delivering them in order."""
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    base = 1_800_000_000
    for index, raw in enumerate(raws):
        target = maildir / "new" / f"{base + index}.{index}.bench"
        target.write_bytes(raw)
        os.utime(target, (base + index, base + index))
