"""Cautions on an application: eligibility warnings and a Form 1 address need 「承認 確認済」."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from mailflow.db.models import AuditEntry, Mentor, Outbox, ReviewItem
from mailflow.db.session import transaction
from mailflow.intake.forms.eligibility import AGE_CODE, EXPERIENCE_CODE, RETIREMENT_CODE
from mailflow.intake.parse import parse_message
from mailflow.review import states
from mailflow.review.replies import handle_staff_reply
from tests.privacy.populated import MAILBOX, sample_mail
from tests.review.builders import (
    APPLICANT,
    FORM,
    apply_line,
    make_item,
    refusal_of,
    staff_reply,
    store_reply,
    taken_in,
)

# Born 1981, still employed with no retirement date: two eligibility warnings.
INELIGIBLE = "06-registration-ineligible-age"
FORM_ADDRESS = "other.address@example.net"


def _warned_item(session, services, code: str):
    item = make_item(session, services)
    item.warnings = [{"code": code, "message": f"{code} の説明", "values": {}}]
    return item


@pytest.mark.parametrize("code", [AGE_CODE, RETIREMENT_CODE, EXPERIENCE_CODE])
def test_eligibility_warning_refused(session, services, code):
    item = _warned_item(session, services, code)
    message = refusal_of(session, services, item, "承認")
    assert f"{code} の説明" in message
    assert "「承認 確認済」" in message
    assert item.state == states.READY


def test_other_warning_not_blocking(session, services):
    item = _warned_item(session, services, "image_only_pdf")
    apply_line(session, services, item, "承認")
    assert item.state == states.APPROVED


def test_eligibility_warning_confirmed(session, services):
    item = _warned_item(session, services, AGE_CODE)
    apply_line(session, services, item, "承認 確認済 特例として認める")
    audit = session.scalars(select(AuditEntry)).one()
    assert item.state == states.APPROVED
    assert audit.detail["confirmed_cautions"] == [f"{AGE_CODE} の説明"]


def test_form_address_refused(session, services):
    item = make_item(session, services, form={**FORM, "email": FORM_ADDRESS})
    message = refusal_of(session, services, item, "承認")
    assert FORM_ADDRESS in message
    assert APPLICANT in message
    assert session.scalars(select(Mentor)).all() == []


def test_form_address_confirmed_registered(session, services):
    item = make_item(session, services, form={**FORM, "email": FORM_ADDRESS})
    result = apply_line(session, services, item, "承認 確認済")
    assert session.scalars(select(Mentor.email)).one() == FORM_ADDRESS
    assert f"登録簿のメールアドレス {FORM_ADDRESS}" in result.summary


def test_form_address_in_confirmation(session, services):
    item = make_item(session, services, form={**FORM, "email": FORM_ADDRESS})
    inbound, analysis = store_reply(session, staff_reply(f"RE: [{item.token}] 審査依頼", "承認 確認済"))
    assert handle_staff_reply(session, services, inbound, analysis).status == "applied"
    row = session.scalars(select(Outbox).where(Outbox.kind == "staff_confirmation")).one()
    text = parse_message(row.raw).body_text
    assert f"登録簿のメールアドレス {FORM_ADDRESS}" in text
    assert f"差出人のアドレス {APPLICANT} ではなく" in text


def test_same_address_approves(session, services):
    item = make_item(session, services, form={**FORM, "email": APPLICANT.upper()})
    apply_line(session, services, item, "承認")
    assert item.state == states.APPROVED


@pytest.fixture
def ineligible(tmp_path):
    """The sample application of a 45-year-old still employed, taken in by the daemon."""
    with taken_in(tmp_path, sample_mail(INELIGIBLE)) as app:
        yield app


def test_sample_ineligible_refused(ineligible, services):
    expected = json.loads((MAILBOX / f"{INELIGIBLE}.json").read_text(encoding="utf-8"))
    services.config = ineligible.config
    with transaction(ineligible.sessions) as session:
        item = session.scalars(select(ReviewItem)).one()
        message = refusal_of(session, services, item, "承認")
        warnings = {warning["code"]: warning["message"] for warning in item.warnings}
        assert item.state == expected["review_state"]
        for code in expected["warnings"]:
            assert warnings[code] in message, code
        assert session.scalars(select(Mentor)).all() == []
