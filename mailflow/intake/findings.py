"""What intake found in one message, in the shape the review stage files.

``analyze`` (intake/analyze.py) fills these; nothing here touches the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mailflow.intake.message import Attachment, Message

DOCUMENT_ROLES = ("registration_form", "pledge_form", "identity_document")

# Japanese names of the checklist documents, as receipts and staff notifications show them.
DOCUMENT_LABELS = {
    "registration_form": "登録申請書（様式1）",
    "pledge_form": "暴力団排除に関する誓約書（様式2）",
    "identity_document": "本人確認書類の写し",
}


@dataclass
class Warning:
    """A machine-detected flag for staff, e.g. ``Warning("age_under_50", "…", {"age": 45})``."""

    code: str
    message: str
    values: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "values": self.values}


@dataclass
class DocumentFinding:
    """One attachment (direct or nested) and what intake learnt from it.

    ``acceptable`` is False when the document arrived but cannot count for the checklist
    (it carried an individual number, is encrypted, or is over a limit). ``unreadable``
    gives the reason when a form-like file could not be read; such a file still counts as
    arrived, so that no receipt claims the form is missing.
    """

    attachment: Attachment
    role: str
    acceptable: bool = True
    record: dict[str, Any] | None = None
    reading: Any = None
    unreadable: str | None = None
    identity_type: str | None = None
    individual_number: bool = False
    has_text_layer: bool | None = None
    notes: list[str] = field(default_factory=list)
    manual_checks: list[str] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)


@dataclass
class Analysis:
    """Everything intake decided about one message.

    ``decision`` is process | ignore_auto_reply | bounce | manual_review.
    ``remove_parts`` lists MIME part ids that must not be kept (individual numbers).
    ``masked_parts`` lists the text parts and Subject fields (``"HEADER"``) whose words
    were masked, and ``masked_for`` why (``individual_number``, ``password``).
    ``stored_raw`` is set when either list is not empty: the raw message without those
    parts and words, the only copy that is kept.
    ``quarantine_reason`` is set when the message cannot be filed at all.
    """

    message: Message
    kind: str
    decision: str
    reasons: list[str] = field(default_factory=list)
    documents: list[DocumentFinding] = field(default_factory=list)
    form: dict[str, Any] | None = None
    form_unreadable: list[str] = field(default_factory=list)
    warnings: list[Warning] = field(default_factory=list)
    manual_checks: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    remove_parts: list[str] = field(default_factory=list)
    masked_parts: list[str] = field(default_factory=list)
    masked_for: list[str] = field(default_factory=list)
    encrypted_parts: list[str] = field(default_factory=list)
    quarantine_reason: str | None = None
    needs_attention: list[str] = field(default_factory=list)
    staff_token: str | None = None
    forwarded_from: str | None = None
    bounce: Any = None
    auto_reply: Any = None
    by_post: list[str] = field(default_factory=list)
    stored_raw: bytes | None = None
    send_reply: bool = False

    def documents_present(self) -> dict[str, bool]:
        """Return the checklist for this message alone: role → an acceptable copy arrived."""
        present = {role: False for role in DOCUMENT_ROLES}
        for finding in self.documents:
            if finding.role in present and finding.acceptable:
                present[finding.role] = True
        return present

    def warning_codes(self) -> list[str]:
        return [warning.code for warning in self.warnings]
