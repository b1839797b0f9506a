"""The sample values ``mailflow doctor`` renders each template with name exactly what the code passes."""

from __future__ import annotations

import datetime as dt

import pytest

from mailflow.commands.doctor import sample_contexts
from mailflow.db.models import Mentor
from mailflow.outbound.templates import Renderer
from mailflow.review.commands import parse_command
from mailflow.review.decisions import DecisionContext, apply_command, revoke_registration
from mailflow.review.notify import plan_staff_notifications
from mailflow.review.replies import handle_staff_reply
from tests.review.builders import APPLICANT, STAFF, make_item, staff_reply, store_reply


class RecordingRenderer(Renderer):
    """A renderer that keeps the variable names of every render call, by template."""

    def __init__(self, directory) -> None:
        super().__init__(directory)
        self.calls: dict[str, list[set[str]]] = {}

    def render(self, name: str, **context):
        self.calls.setdefault(name, []).append(set(context))
        return super().render(name, **context)


@pytest.fixture
def recorded(session, services):
    """Run every decision and staff mail once and return the variable names each template got."""
    services.renderer = RecordingRenderer(services.config.templates_dir)
    context = DecisionContext(session, services, actor=STAFF, channel="cli")
    mentor = Mentor(name="中村 誠", status="active", registration_number="MM-2023-0001", email="m@example.jp",
                    birth_date=dt.date(1960, 4, 1), expires_on=dt.date(2027, 3, 31))
    session.add(mentor)
    session.flush()
    for line in ("承認", "却下 年齢", "差戻し 生年月日", "再提出 本人確認書類 読めません"):
        apply_command(context, make_item(session, services, documents={"identity_document": b"x"}), parse_command(line))
    renewal = make_item(session, services, kind="renewal", sender="m@example.jp",
                        form={"name": "中村 誠", "birth_date": "1960-04-01", "registration_number": "MM-2023-0001"})
    apply_command(context, renewal, parse_command("承認"))
    notice = make_item(session, services, kind="change_notice", sender="m@example.jp", body="電話番号：03-1111-2222 → 03-3333-4444")
    apply_command(context, notice, parse_command("承認"))
    withdrawal = make_item(session, services, kind="withdrawal", sender="m@example.jp", body="登録を取り消してください")
    plan_staff_notifications(session, services, flush=True)
    apply_command(context, withdrawal, parse_command("承認"))
    other = Mentor(name="佐藤 花子", status="active", registration_number="MM-2023-0002", email="h@example.jp")
    session.add(other)
    session.flush()
    revoke_registration(context, other, "requirements_not_met")
    _reply_flows(session, services)
    return services.renderer.calls


def _reply_flows(session, services) -> None:
    """Plan a staff confirmation, a staff help mail and a refusal report."""
    item = make_item(session, services, sender=APPLICANT)
    for index, (body, sender) in enumerate([("メモ 電話済み", STAFF), ("よろしく", STAFF), ("承認", "x@example.net")]):
        raw = staff_reply(f"RE: [{item.token}]", body, sender=sender, message_id=f"<reply-{index}@bureau.example.jp>")
        inbound, analysis = store_reply(session, raw)
        handle_staff_reply(session, services, inbound, analysis)


def test_every_decision_template_recorded(recorded):
    expected = {"result_approved", "result_renewed", "result_rejected", "result_returned", "result_resubmission",
                "change_confirmation", "withdrawal_confirmation", "revocation_confirmation", "staff_notification",
                "staff_confirmation", "staff_help", "staff_refusal"}
    assert expected <= set(recorded)


def test_samples_name_the_passed_variables(recorded, services):
    samples = sample_contexts(services.config)
    for template, calls in recorded.items():
        sample_keys = [set(context) for context in samples[template]]
        for keys in calls:
            assert keys in sample_keys, template
