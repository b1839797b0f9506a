"""``mailflow queue open renewal MM-…``: an item for a renewal whose documents come by post.

A renewal usually arrives by mail and opens its item at intake. When a mentor sends the
documents by post instead, staff open the item here, record each document with
``queue received`` and decide as usual. The item belongs to the registered mentor, so it
stops the renewal reminders and holds the revocation at expiry like a mailed renewal.
"""

from __future__ import annotations

import argparse
import getpass

from sqlalchemy import select

from mailflow.commands.decide import open_sessions
from mailflow.config import Config
from mailflow.db.models import AuditEntry, ReviewItem
from mailflow.db.session import transaction
from mailflow.registry import mentors as registry
from mailflow.review import items as review_items
from mailflow.review import states


def register_open(actions) -> None:
    """Add ``queue open`` to the queue's sub-commands."""
    opening = actions.add_parser(
        "open", help="郵送で届いた更新申請の案件を作ります（届いた書類は queue received で記録します）")
    opening.add_argument("kind", choices=["renewal"], help="案件の種類（renewal: 更新申請）")
    opening.add_argument("registration_number", metavar="登録番号", help="更新するメンターの登録番号（例 MM-2023-0101）")
    opening.add_argument("--actor", default=None, help="記録に残す操作者（既定は OS のユーザー名）")
    opening.set_defaults(handler=run_open)


def run_open(args: argparse.Namespace, config: Config) -> int:
    with transaction(open_sessions(config)) as session:
        mentor = registry.find_by_number(session, args.registration_number)
        if mentor is None or mentor.status != registry.ACTIVE:
            print(f"登録番号 {args.registration_number} の登録中のメンターが見つかりません"
                  "（mailflow registry list で確認してください）")
            return 1
        existing = session.scalar(select(ReviewItem).where(
            ReviewItem.mentor_id == mentor.id, ReviewItem.kind == "renewal",
            ReviewItem.state.in_(sorted(states.OPEN))).order_by(ReviewItem.id).limit(1))
        if existing is not None:
            print(f"このメンターの更新申請はすでに受付番号 {existing.number} で審査中です。"
                  f"郵送の書類は mailflow queue received {existing.number} 書類名 で記録してください")
            return 1
        item = review_items.create_item(session, "renewal", mentor.email, mentor.name, config.staff.token_days)
        item.mentor_id = mentor.id
        item.applicant_name = mentor.name
        item.applicant_email = mentor.email
        item.details = {"opened_for_post": True}
        review_items.recompute_state(item)
        session.add(AuditEntry(item_id=item.id, mentor_id=mentor.id, actor=args.actor or getpass.getuser(),
                               action="item_opened", outcome="applied",
                               detail={"channel": "cli", "kind": "renewal"}))
        number, name, registration_number = item.number, mentor.name, mentor.registration_number
    print(f"更新申請の案件 {number} を作りました（登録番号 {registration_number} {name} 様）。"
          f"届いた書類は mailflow queue received {number} 申請書 誓約書 本人確認書類 のように記録してください")
    return 0
