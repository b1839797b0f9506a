"""Decide whether an item may be approved: every document in, every attention reason confirmed.

A registration or renewal is approved only with a complete checklist. No command word
lifts that rule, because a document that came by post or was shown at the counter is
recorded with 郵送受領, which leaves its own audit entry. Reasons that put an item of
any kind in need of attention (an unreadable form, an individual number found, a reply
from another address) are for staff to judge. So are the cautions of an application:
an eligibility warning on Form 1 (age, retirement, years of experience), and a Form 1
mail address that differs from the sender's, because the registry takes the form's.
「承認 確認済」 (``--force`` on the command line) approves despite reasons and cautions,
and the approval's audit entry lists what was confirmed.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailflow.db.models import Mentor, ReviewItem
from mailflow.intake.findings import DOCUMENT_LABELS
from mailflow.intake.forms.eligibility import AGE_CODE, EXPERIENCE_CODE, RETIREMENT_CODE
from mailflow.review import events as event_review
from mailflow.review import items as review_items
from mailflow.review import states
from mailflow.review.commands import APPLICATION_KINDS, DOCUMENT_NAMES, REGISTRY, Command

# Stands for the reason when an item was put in needs_attention without one recorded.
UNSTATED_ATTENTION = "要確認の状態です（理由の記録はありません）"
# Warning codes of the eligibility check on Form 1: each one needs 確認済 to approve.
ELIGIBILITY_CODES = (AGE_CODE, RETIREMENT_CODE, EXPERIENCE_CODE)


@dataclass(frozen=True)
class ApprovalCheck:
    """The obstacles to approving an item.

    ``missing`` lists the checklist roles not received yet; ``attention`` the reasons
    the item needs attention, in the words staff were shown; ``cautions`` the eligibility
    warnings and the address difference of an application, as sentences for staff.
    """

    missing: tuple[str, ...] = ()
    attention: tuple[str, ...] = ()
    cautions: tuple[str, ...] = ()

    @property
    def confirmable(self) -> tuple[str, ...]:
        """Every reason and caution that 「承認 確認済」 confirms."""
        return self.attention + self.cautions

    def allows(self, override: bool) -> bool:
        """Tell whether approval may go ahead; ``override`` confirms reasons and cautions, never a missing document."""
        return not self.missing and (override or not self.confirmable)


def check_approval(item: ReviewItem) -> ApprovalCheck:
    """Return the missing documents, the open attention reasons and the cautions of an item.

    Only registrations and renewals have a checklist and cautions, so other kinds never
    miss a document.
    """
    missing = review_items.missing_documents(item) if item.kind in APPLICATION_KINDS else []
    attention = review_items.attention_reasons(item) + event_review.approval_reasons(item)
    if not attention and item.state == states.NEEDS_ATTENTION:
        attention = [UNSTATED_ATTENTION]
    return ApprovalCheck(tuple(missing), tuple(attention), tuple(application_cautions(item)))


def application_cautions(item: ReviewItem) -> list[str]:
    """Return the eligibility warnings of an application and, for a registration, an address difference."""
    if item.kind not in APPLICATION_KINDS:
        return []
    cautions = [warning.get("message") or warning["code"] for warning in item.warnings or []
                if warning.get("code") in ELIGIBILITY_CODES]
    form_address = registry_address(item)
    if item.kind == "registration" and item.sender_address and \
            not review_items.same_address(form_address, item.sender_address):
        cautions.append(f"登録申請書のメールアドレス（{form_address}）が差出人のアドレス（{item.sender_address}）と"
                        f"異なります。承認すると、登録簿には申請書のアドレス（{form_address}）を登録します。")
    return cautions


def registry_address(item: ReviewItem) -> str | None:
    """Return the mail address an approved registration puts in the registry: Form 1's, else the sender's."""
    return (item.form_values or {}).get("email") or item.applicant_email or item.sender_address


def confirmed_approval(item: ReviewItem, channel: str) -> str:
    """Return the command that approves ``item`` as confirmed: a CLI line, or the reply words."""
    return f"mailflow queue approve {item.number} --force" if channel == "cli" else "承認 確認済"


def refusal_message(item: ReviewItem, check: ApprovalCheck, channel: str) -> str:
    """Return the Japanese explanation of a refused approval, with the command that moves on.

    ``channel`` is ``mail`` or ``cli`` and picks how the commands are written.
    """
    lines = [f"受付番号 {item.number} はまだ承認できません。"]
    if check.missing:
        names = " ".join(DOCUMENT_NAMES[role] for role in check.missing)
        record = (f"mailflow queue received {item.number} {names}" if channel == "cli" else f"郵送受領 {names}")
        lines.append("次の書類が届いていません:")
        lines.extend(f"  ・{DOCUMENT_LABELS[role]}" for role in check.missing)
        lines.append(f"郵送や窓口で受け取った書類は「{record}」で受領を記録してから承認してください。"
                     "申請者がメールで送れば、書類は自動で記録されます。"
                     "書類がそろわないまま承認することはできません。")
    if check.attention:
        lines.append("次の理由で要確認になっています:")
        lines.extend(f"  ・{reason}" for reason in check.attention)
    if check.cautions:
        lines.append("申請書について、次の点の確認が必要です:")
        lines.extend(f"  ・{caution}" for caution in check.cautions)
    if check.confirmable:
        force = confirmed_approval(item, channel)
        after = "書類がそろったあと、" if check.missing else ""
        lines.append(f"{after}理由を確認したうえで承認するときは「{force}」としてください（確認済みとして記録に残ります）。")
    return "\n".join(lines)


def duplicate_refusal(item: ReviewItem, existing: Mentor, channel: str) -> str:
    """Return why a registration cannot be approved while ``existing`` is an active mentor of the same person.

    The registry keeps one entry per name and birth date, and no command turns a
    registration into a renewal. So the message offers what staff can do: reject with a
    reason that requests a renewal application, or hold the item and check the registry
    when the two are different people. ``channel`` is ``mail`` or ``cli``.
    """
    expires = f"、登録期間満了日 {existing.expires_on.isoformat()}" if existing.expires_on else ""
    reason = "すでに登録済みのため新規登録はできません。登録を続ける場合は更新の申請書をお送りください"
    reject = f"mailflow queue reject {item.number} {reason}" if channel == "cli" else f"却下 {reason}"
    hold = f"mailflow queue hold {item.number}" if channel == "cli" else "保留"
    return "\n".join([
        f"受付番号 {item.number} は承認できません。同じ氏名・生年月日のメンターが登録済みです"
        f"（登録番号 {existing.registration_number}{expires}）。",
        "同じ方の申請であれば、新規登録ではなく更新の申請が必要です。たとえば次のように却下し、"
        "更新の申請書を送るよう申請者にお知らせしてください:",
        f"  {reject}",
        f"別の方の申請であれば、「{hold}」で保留にして登録簿の内容を確認し、管理者に相談してください。",
    ])


def hold_refusal(item: ReviewItem, command: Command, channel: str) -> str:
    """Return why ``command`` is not applied to a held item, naming the commands that are."""
    if channel == "cli":
        usage, resume = f"mailflow queue {command.name}", f"mailflow queue resume {item.number}"
    else:
        usage, resume = command.usage, REGISTRY.by_name("resume").usage
    allowed = "、".join(f"「{other.usage}」" for other in REGISTRY if other.allowed_on_hold)
    return (f"受付番号 {item.number} は保留中のため、「{usage}」は受け付けません。"
            f"審査を続けるときは、先に「{resume}」で保留を解除してください"
            f"（保留中に使える命令: {allowed}）。")
