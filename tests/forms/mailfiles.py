"""Test helpers: sample mails, their expected JSON and their attachments (stdlib email)."""

from __future__ import annotations

import email
import json
from email import policy
from functools import lru_cache
from pathlib import Path

FIXTURES = Path(__file__).parents[1] / "fixtures"
CASES = FIXTURES / "cases"
MAILBOX = FIXTURES / "sample" / "mailbox"
FORMS = FIXTURES / "sample" / "forms"

# The sample JSON's `format` names, and the sniffed type each corresponds to.
FORMAT_TO_SNIFFED = {
    "xlsx": "xlsx",
    "docx": "docx",
    "pdf_text": "pdf",
    "pdf_image_only": "pdf",
    "pdf_image_with_ocr_text": "pdf",
    "jpeg": "jpeg",
}


def mail_path(number: str) -> Path:
    """Return the .eml of sample mail ``number`` ("01" … "16")."""
    return next(MAILBOX.glob(f"{number}-*.eml"))


@lru_cache(maxsize=None)
def expected(number: str) -> dict:
    """Return the expected JSON of sample mail ``number``."""
    return json.loads(mail_path(number).with_suffix(".json").read_text(encoding="utf-8"))


@lru_cache(maxsize=None)
def attachments(path: Path) -> dict[str, bytes]:
    """Return {decoded file name: decoded bytes} of every named leaf part of a mail."""
    message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    found = {}
    for part in message.walk():
        name = part.get_filename()
        if name and not part.is_multipart():
            found[name] = part.get_payload(decode=True)
    return found


def attachment_with_role(number: str, role: str) -> tuple[bytes, str, str]:
    """Return (payload, sniffed type, file name) of the attachment the JSON gives ``role``."""
    for entry in expected(number)["attachments"]:
        if entry.get("role") == role:
            payload = attachments(mail_path(number))[entry["filename"]]
            return payload, FORMAT_TO_SNIFFED[entry["format"]], entry["filename"]
    raise LookupError(f"mail {number} has no attachment with role {role}")
