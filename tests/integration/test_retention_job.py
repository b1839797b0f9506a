"""run --once also purges identity documents whose retention ended."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select

from mailflow import clock
from mailflow.app import App
from mailflow.db.models import Document, ReviewItem
from mailflow.db.session import transaction

from tests.integration.harness import FROZEN_NOW, base_config, sample_mails
from tests.integration.test_intake_maildir import deliver


def test_run_once_purges_identity_documents(tmp_path):
    config = base_config(tmp_path)
    mail = sample_mails()[0]
    deliver(Path(config.mailbox.maildir), [mail.path])
    app = App(config)
    try:
        clock.set_now(FROZEN_NOW)
        app.run_once()
        with transaction(app.sessions) as session:
            item = session.scalars(select(ReviewItem)).one()
            item.state, item.decision, item.decided_at = "approved", "approved", FROZEN_NOW
        clock.set_now(FROZEN_NOW + dt.timedelta(days=config.privacy.identity_retention_days + 1))
        app.run_once()
        with app.sessions() as session:
            documents = {document.role: document for document in session.scalars(select(Document))}
    finally:
        clock.set_now(None)
        app.close()
    assert documents["identity_document"].storage_id is None
    assert documents["identity_document"].purged_at is not None
    assert documents["registration_form"].storage_id is not None
