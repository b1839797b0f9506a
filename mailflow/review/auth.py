"""Decide whether a staff reply really comes from staff: the From address and its authentication.

A reply counts as authenticated when either of two server-added headers vouches for it:

* The topmost ``Authentication-Results`` header (RFC 8601) whose authserv-id is
  ``staff.authserv_id`` shows ``dmarc=pass``, or ``dkim=pass`` with ``header.d`` aligned
  to the From domain, or ``spf=pass`` with ``smtp.mailfrom`` aligned to it. Every header
  below that one is ignored, because a sender can write any header into a message and
  only the one our server added last is ours. What makes it trustworthy is that the
  server named by the authserv-id removes or renames incoming copies that carry its own
  authserv-id (RFC 8601 section 5; OpenDMARC, rspamd and Exchange Online do), so the
  deployment must keep that on.
* ``staff.trusted_header`` (e.g. ``X-MS-Exchange-Organization-AuthAs: Internal``) for
  internal mail that gets no Authentication-Results. It counts only when the header
  occurs exactly once with exactly that value. What makes it trustworthy is again the
  server: Exchange removes X-MS-Exchange-Organization-* headers from mail that arrives
  from outside the organisation. Its position is no help, because a forged copy sent
  straight to the border server ends up directly below that server's Received header,
  just where a genuine one sits; a second copy, though, proves one came from outside.

Alignment is RFC 7489 relaxed alignment approximated without a public-suffix list: two
domains are aligned when they are equal or one is a subdomain of the other, and the
shorter one has at least two labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from email import policy
from email.utils import getaddresses

from mailflow.config import StaffConfig
from mailflow.intake.headers import unfold
from mailflow.intake.message import Message
from mailflow.review.authresults import AuthenticationResults, trusted_results

@dataclass(frozen=True)
class SenderCheck:
    """Outcome of :func:`check_sender`: ``reason`` is a refusal code when ``ok`` is False.

    ``method`` names what vouched for the sender (``dmarc``, ``dkim``, ``spf`` or
    ``trusted_header``); ``address`` is the single From address, lower case.
    """

    ok: bool
    reason: str | None = None
    method: str | None = None
    address: str | None = None


def domain_of(value: str) -> str:
    """Return the domain of an address or a bare domain, lower case, without a trailing dot."""
    return ascii_lower(value.rpartition("@")[2].strip().strip("."))


def domains_aligned(left: str, right: str) -> bool:
    """Tell whether two domains are aligned under relaxed alignment (see the module docstring).

    ``bureau.example.jp`` and ``mail.bureau.example.jp`` are; ``example.jp`` and ``jp`` are
    not, since a single label is always a public suffix.
    NOTE: without a public-suffix list, two domains under a two-label suffix such as
    ``co.jp`` count as aligned with that suffix itself; only its registry could sign or
    publish SPF for it.
    """
    left, right = domain_of(left), domain_of(right)
    if not left or not right or not left.isascii() or not right.isascii():
        return False
    if left == right:
        return True
    shorter, longer = sorted((left, right), key=len)
    return shorter.count(".") >= 1 and longer.endswith("." + shorter)


def passing_method(results: AuthenticationResults, from_domain: str) -> str | None:
    """Return the method that authenticates ``from_domain`` in ``results``, or None."""
    for entry in results.results:
        if entry.result != "pass":
            continue
        if entry.method == "dmarc":
            stated = entry.properties.get("header.from")
            if stated is None or domain_of(stated) == domain_of(from_domain):
                return "dmarc"
        elif entry.method == "dkim":
            signer = entry.properties.get("header.d") or entry.properties.get("header.i", "")
            if signer and domains_aligned(signer, from_domain):
                return "dkim"
        elif entry.method == "spf":
            envelope = entry.properties.get("smtp.mailfrom", "")
            if envelope and domains_aligned(envelope, from_domain):
                return "spf"
    return None


def trusted_header_present(message: Message, setting: str) -> bool:
    """Tell whether ``setting`` ("Name: value") occurs exactly once in ``message`` with that value."""
    name, separator, expected = setting.partition(":")
    if not separator or not name.strip():
        return False
    values = [unfold(value).strip() for value in message.raw_header_all(name.strip())]
    return len(values) == 1 and ascii_lower(values[0]) == ascii_lower(expected.strip())


def single_from_address(message: Message) -> str | None:
    """Return the one From address (ASCII lower case) when every parser reads the same one; else None.

    A From field that two parsers read differently, or that holds several mailboxes, is
    how display-name and address-list spoofing works, so it is never guessed at.
    """
    raw = message.raw_header_all("From")
    if len(raw) != 1 or message.from_ is None:
        return None
    # Raw values hold the header bytes as latin-1 text; UTF-8 addresses (RFC 6532) are
    # turned back into their characters. Encoded-words stay encoded, because decoding
    # them first would let a display name inject an address.
    value = unfold(raw[0]).encode("latin-1", "replace").decode("utf-8", "replace")
    lenient = [address for _name, address in getaddresses([value]) if address]
    strict = [entry.addr_spec for entry in policy.default.header_factory("From", value).addresses]
    candidates = {*(ascii_lower(value) for value in lenient), *(ascii_lower(value) for value in strict),
                  ascii_lower(message.from_.address)}
    if len(lenient) != 1 or len(strict) != 1 or len(candidates) != 1:
        return None
    return candidates.pop()


def ascii_lower(value: str) -> str:
    """Lower-case ``value`` only when it is all ASCII.

    ``str.lower`` maps some non-ASCII letters to ASCII ones (the Kelvin sign K becomes
    "k"), which would turn a look-alike address into a staff address.
    """
    return value.lower() if value.isascii() else value


def is_staff_address(address: str, staff_addresses: list[str]) -> bool:
    """Tell whether ``address`` is on the staff list, comparing ASCII case-insensitively.

    Any non-ASCII character rejects the address, so look-alikes (Cyrillic а, full-width
    letters, the Kelvin sign K) and addresses that would only match after NFKC or casefold
    never pass. Staff addresses configured with non-ASCII characters never match.
    """
    if not address or not address.isascii() or not address.isprintable() or " " in address:
        return False
    wanted = address.lower()
    return any(staff.isascii() and staff.strip().lower() == wanted for staff in staff_addresses)


def check_sender(message: Message, staff: StaffConfig, staff_addresses: list[str]) -> SenderCheck:
    """Check that ``message`` comes from a listed staff address and is authenticated.

    Refusal codes: ``from_ambiguous``, ``not_staff``, ``not_authenticated``.
    """
    address = single_from_address(message)
    if address is None:
        return SenderCheck(False, "from_ambiguous")
    if not is_staff_address(address, staff_addresses):
        return SenderCheck(False, "not_staff", address=address)
    results = trusted_results(message, staff.authserv_id)
    if results is not None:
        method = passing_method(results, domain_of(address))
        if method is not None:
            return SenderCheck(True, method=method, address=address)
    if staff.trusted_header and trusted_header_present(message, staff.trusted_header):
        return SenderCheck(True, method="trusted_header", address=address)
    return SenderCheck(False, "not_authenticated", address=address)
