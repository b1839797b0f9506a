"""With a key configured, stored raw mails and document files show no attachment bytes or names.

Every sample mail with attachments is taken in. Then the ``inbound_message.raw`` column
and every file of the document store are searched for each attachment: slices of its
decoded bytes, lines of its base64 text as the .eml carries it, and its file name
(decoded, and as the .eml writes it). Without a key the same search finds them,
which shows that the search works.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from mailflow import clock
from mailflow.app import App
from mailflow.db.models import InboundMessage
from mailflow.db.session import transaction
from mailflow.intake.parse import parse_message
from tests.leaks.corpus import SAMPLE_STEMS
from tests.leaks.scan import sample_json
from tests.leaks.secrets import found_in, text_forms
from tests.privacy.populated import INTAKE_DAY, app_config, deliver, sample_mail

SLICE_BYTES = 32
MIN_NAME_LENGTH = 8
WITH_ATTACHMENTS = [stem for stem in SAMPLE_STEMS if sample_json(stem)["attachments"]]
_NAME_PARAMETER = re.compile(rb"""(?:file)?name\*?\d*\*?\s*=\s*"?([^";\r\n]+)""", re.IGNORECASE)
_BASE64_LINE = re.compile(rb"^[A-Za-z0-9+/]{60,}$", re.MULTILINE)


def attachment_forms(stem: str) -> list[bytes]:
    """Return byte slices, base64 lines and file names of the attachments of sample ``stem``."""
    raw = sample_mail(stem).read_bytes()
    forms: list[bytes] = []
    for attachment in parse_message(raw).attachments:
        payload = attachment.payload
        for fraction in (4, 2):
            start = len(payload) // fraction
            forms.append(payload[start:start + SLICE_BYTES])
        if attachment.filename:
            forms += text_forms(attachment.filename)
    lines = _BASE64_LINE.findall(raw)
    forms += lines[len(lines) // 3::max(1, len(lines) // 6)]
    forms += [value for value in _NAME_PARAMETER.findall(raw) if len(value) >= MIN_NAME_LENGTH]
    return [form for form in forms if len(form) >= MIN_NAME_LENGTH]


def stored_bytes(app: App) -> dict[str, bytes]:
    """Return the raw column of every stored mail and the bytes of every document file, by a label."""
    stored = {}
    with transaction(app.sessions) as session:
        for message in session.scalars(select(InboundMessage)):
            stored[f"inbound_message.raw#{message.id}"] = message.raw or b""
    for path in Path(app.store.root).rglob("*"):
        if path.is_file():
            stored[f"documents/{path.name}"] = path.read_bytes()
    return stored


def hits(app: App) -> list[str]:
    forms = [form for stem in WITH_ATTACHMENTS for form in attachment_forms(stem)]
    return [label for label, data in stored_bytes(app).items() if found_in(data, forms)]


def run(tmp_path: Path, encrypted: bool) -> App:
    clock.set_now(INTAKE_DAY)
    config = app_config(tmp_path, encrypted=encrypted)
    deliver(config, *[sample_mail(stem) for stem in WITH_ATTACHMENTS])
    app = App(config)
    app.run_once()
    return app


@pytest.fixture
def encrypted_app(tmp_path):
    app = run(tmp_path, encrypted=True)
    yield app
    app.close()
    clock.set_now(None)


@pytest.fixture
def plain_app(tmp_path):
    app = run(tmp_path, encrypted=False)
    yield app
    app.close()
    clock.set_now(None)


def test_forms_cover_every_attachment():
    for stem in WITH_ATTACHMENTS:
        assert len(attachment_forms(stem)) >= 3 * len(sample_json(stem)["attachments"]), stem


def test_encrypted_store_shows_nothing(encrypted_app):
    assert len(stored_bytes(encrypted_app)) > len(WITH_ATTACHMENTS)
    assert hits(encrypted_app) == []


def test_encrypted_raw_flagged(encrypted_app):
    with transaction(encrypted_app.sessions) as session:
        flags = set(session.scalars(select(InboundMessage.raw_encrypted)))
    assert flags == {True}


def test_plain_store_shows_attachments(plain_app):
    found = hits(plain_app)
    assert len([label for label in found if label.startswith("inbound_message.raw")]) == len(WITH_ATTACHMENTS)
    assert any(label.startswith("documents/") for label in found)
