"""Search every place mailflow writes for personal values: database, folders, logs, mailbox."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from sqlalchemy import Engine, select

from mailflow.db.models import Base
from mailflow.intake.parse import parse_message
from mailflow.storage import decrypt_blob
from tests.conftest import SAMPLE
from tests.leaks.secrets import decoded_mail, found_in

MAILBOX = SAMPLE / "mailbox"
APPLICANT_FIELDS = ("name", "kana", "address", "phone", "mobile", "email", "postal_code")
MIN_LINE_LENGTH = 8


def column_bytes(value, encrypted: bool, key: bytes | None) -> bytes:
    """Return a column value as bytes to search: text in UTF-8, JSON as text, blobs decrypted."""
    if value is None:
        return b""
    if isinstance(value, bytes):
        return decrypt_blob(value, key) if encrypted and key is not None else value
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False).encode("utf-8")
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat().encode("ascii")
    return str(value).encode("utf-8")


def database_hits(engine: Engine, forms: list[bytes], key: bytes | None = None) -> list[str]:
    """Return ``table.column#id`` for every value in any table that contains one of ``forms``."""
    hits = []
    with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            for row in connection.execute(select(table)).mappings():
                encrypted = bool(row.get("raw_encrypted"))
                for name, value in row.items():
                    data = column_bytes(value, encrypted and name == "raw", key)
                    if name == "raw" and data:
                        data += decoded_mail(data)
                    if found_in(data, forms):
                        hits.append(f"{table.name}.{name}#{row.get('id', row.get('address', row.get('name')))}")
    return hits


def sample_json(stem: str) -> dict:
    return json.loads((MAILBOX / f"{stem}.json").read_text(encoding="utf-8"))


def birth_date_forms(iso: str) -> list[str]:
    day = dt.date.fromisoformat(iso)
    return [iso, f"{day.year}年{day.month}月{day.day}日", day.strftime("%Y/%m/%d")]


def personal_values(stem: str, body: bool = True) -> list[str]:
    """Return the personal values of sample mail ``stem``: sender, subject, form values and, with ``body``, body lines.

    Body lines such as greetings also occur in other people's mail, so a search among
    several people's data leaves them out.
    """
    expected = sample_json(stem)
    values = [expected["from"]["name"], expected["from"]["email"], expected["subject"]]
    applicant = expected.get("applicant") or {}
    values += [str(applicant[name]) for name in APPLICANT_FIELDS if applicant.get(name)]
    if applicant.get("name"):
        values.append(applicant["name"].replace(" ", ""))
    if applicant.get("birth_date"):
        values += birth_date_forms(applicant["birth_date"])
    if body:
        values += body_lines((MAILBOX / f"{stem}.eml").read_bytes())
    return sorted({value for value in values if value})


def body_lines(raw: bytes) -> list[str]:
    """Return the lines of a mail's own text long enough to identify it (quotes and blank lines left out)."""
    message = parse_message(raw)
    lines = []
    for line in message.body_text.splitlines():
        text = line.strip()
        if len(text) >= MIN_LINE_LENGTH and not text.startswith(">"):
            lines.append(text)
    return lines


def log_hits(text: str, values: list[str]) -> list[str]:
    """Return the values that occur in the log ``text``."""
    return [value for value in values if value in text]


def folder_hits(root: Path, forms: list[bytes]) -> list[str]:
    """Return the files under ``root`` whose bytes contain one of ``forms``."""
    hits = []
    if not root.exists():
        return hits
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        data = path.read_bytes()
        if path.suffix == ".eml" or path.parent.name in ("new", "cur"):
            data += decoded_mail(data)
        if found_in(data, forms):
            hits.append(str(path.relative_to(root)))
    return hits
