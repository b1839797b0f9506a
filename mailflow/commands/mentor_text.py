"""The Japanese text of ``mailflow registry show``: labels for the stored codes and field names.

``registry show --json`` prints the stored codes (``not_renewed``, ``imported``,
``expires_on``), and this module gives staff the same data in Japanese.
"""

from __future__ import annotations

from mailflow.registry.mentors import STATUS_LABELS, reason_wording
from mailflow.review import states
from mailflow.review.form_view import CAREER_LABEL, FORM_LABELS

# History actions, as registry code and the importer store them.
ACTION_LABELS = {
    "imported": "一覧から取り込み",
    "registered": "新規登録",
    "renewed": "更新",
    "changed": "登録内容の変更",
    "withdrawn": "登録取り消し（本人の申し出）",
    "revoked": "登録取り消し（局の判断）",
}
# Mentor columns and profile keys a history row names, with the words staff know them by.
FIELD_LABELS = {
    **FORM_LABELS,
    "career": CAREER_LABEL,
    "registered_on": "登録日",
    "expires_on": "登録期間満了日",
    "status": "状態",
    "status_reason": "理由",
}


def render_mentor_text(data: dict) -> str:
    """Return the text of ``registry show`` for ``data``, the dict that ``--json`` prints.

    A code without a label (a newer action or field) is printed as stored, never dropped.
    """
    status = STATUS_LABELS.get(data["status"], data["status"])
    if data["status_reason"]:
        status += f"（理由: {reason_wording(data['status_reason'])}）"
    lines = [
        f"登録者ID: {data['id']}",
        f"登録番号: {data['registration_number'] or '（なし）'}",
        f"氏名: {data['name']}{'（' + data['kana'] + '）' if data['kana'] else ''}",
        f"メールアドレス: {data['email'] or '（なし）'}",
        f"状態: {status}",
        f"登録日: {data['registered_on'] or '-'}",
        f"登録期間満了日: {data['expires_on'] or '-'}",
        f"更新手続期限: {data['renewal_deadline'] or '-'}",
        f"専門分野: {'、'.join(data['fields']) or '-'}",
    ]
    if data["renewal_applications"]:
        lines.append("更新申請:")
        lines.extend(f"  {item['number']} {states.LABELS.get(item['state'], item['state'])} {item['created_at']}受付"
                     for item in data["renewal_applications"])
    if data["history"]:
        lines.append("変更の履歴:")
        lines.extend(_history_line(entry) for entry in data["history"])
    return "\n".join(lines)


def _field_order(name: str) -> tuple[int, str]:
    """Sort key that lists fields in FIELD_LABELS order (Form 1's order), unknown names last."""
    order = list(FIELD_LABELS)
    return (order.index(name), "") if name in order else (len(order), name)


def _history_line(entry: dict) -> str:
    action = ACTION_LABELS.get(entry["action"], entry["action"])
    fields = "、".join(FIELD_LABELS.get(name, name) for name in sorted(entry["changes"], key=_field_order))
    return f"  {entry['at']} {action}: {fields}（実行: {entry['actor']}）"
