"""Build the mailbox source the config asks for."""

from __future__ import annotations

from mailflow.config import Config
from mailflow.mailbox.base import MailboxSource


def make_source(config: Config) -> MailboxSource:
    """Return an unconnected IMAP or Maildir source for ``config.mailbox``."""
    if config.mailbox.type == "imap":
        from mailflow.mailbox.imap import ImapSource

        return ImapSource.from_config(config)
    from mailflow.mailbox.maildir import MaildirSource

    return MaildirSource.from_config(config)
