"""What the bureau's mail server recorded about the sender of a mail, for staff to judge a mentor's notice.

A change notice or withdrawal is matched to a mentor by its From address, which any
sender can write. Staff therefore see the topmost Authentication-Results header that
``staff.authserv_id`` wrote (the only one the bureau's server vouches for, see
``review.auth``), and every Reply-To or Sender address that differs from From, because a
forger who cannot read the mentor's mail wants replies sent to an address of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import getaddresses

from sqlalchemy.orm import Session

from mailflow.db.models import ReviewItem
from mailflow.intake.message import Message
from mailflow.review import items as review_items
from mailflow.review.auth import domain_of, passing_method
from mailflow.review.authresults import AuthenticationResults, MethodResult, trusted_results
from mailflow.review.mailings import Services
from mailflow.review.mentor_items import item_message

PASS = "pass"
FAIL = "fail"
NONE = "none"
VERDICT_LABELS = {PASS: "合格", FAIL: "不合格", NONE: "結果なし"}

# The methods that can authenticate a From domain, and the results that count as failed.
# SPF softfail counts too: RFC 7208 section 2.6.5 calls it the domain's weak statement
# that the sending host is probably not authorised.
AUTHENTICATING_METHODS = ("dmarc", "dkim", "spf")
FAILING_RESULTS = frozenset({"fail", "softfail"})


@dataclass(frozen=True)
class OtherAddress:
    """An address the mail names besides From, e.g. ``OtherAddress("Reply-To", "x@attacker.example")``."""

    header: str
    address: str


@dataclass(frozen=True)
class SenderProvenance:
    """What the bureau's server and the mail's headers show about who sent a mail.

    ``verdict`` is ``pass`` (DMARC, or DKIM or SPF aligned with the From domain, passed),
    ``fail`` (one of them failed and none passed) or ``none`` (no result from our server,
    or none that decides). ``results`` lists our server's results as written, e.g.
    ``"spf=pass smtp.mailfrom=example.jp"``. ``cautions`` lists the Japanese sentences
    that tell staff why the From address alone does not prove who wrote the mail.
    """

    from_address: str | None
    verdict: str
    method: str | None
    source: str
    results: tuple[str, ...] = ()
    other_addresses: tuple[OtherAddress, ...] = ()
    cautions: tuple[str, ...] = ()

    @property
    def verdict_label(self) -> str:
        """Return the verdict in Japanese, with the method that passed: 「合格（dmarc）」."""
        label = VERDICT_LABELS[self.verdict]
        return f"{label}（{self.method}）" if self.method else label

    @property
    def needs_care(self) -> bool:
        return bool(self.cautions)


def sender_provenance(message: Message, authserv_id: str) -> SenderProvenance:
    """Return what ``message`` shows about its sender, judged by our server ``authserv_id``."""
    from_address = message.from_.address if message.from_ else None
    results = trusted_results(message, authserv_id) if authserv_id.strip() else None
    verdict, method = _verdict(results, from_address)
    others = tuple(_other_addresses(message, from_address))
    return SenderProvenance(
        from_address=from_address,
        verdict=verdict,
        method=method,
        source=_source(results, authserv_id),
        results=tuple(_describe(entry) for entry in results.results) if results is not None else (),
        other_addresses=others,
        cautions=tuple(_cautions(verdict, others)),
    )


def item_sender_provenance(session: Session, services: Services, item: ReviewItem) -> SenderProvenance | None:
    """Return the provenance of the mail that opened ``item``; None once its raw copy is gone."""
    message = item_message(session, services, item)
    if message is None:
        return None
    return sender_provenance(message, services.config.staff.authserv_id)


def _verdict(results: AuthenticationResults | None, from_address: str | None) -> tuple[str, str | None]:
    if results is None or not from_address:
        return NONE, None
    method = passing_method(results, domain_of(from_address))
    if method is not None:
        return PASS, method
    failed = any(entry.method in AUTHENTICATING_METHODS and entry.result in FAILING_RESULTS
                 for entry in results.results)
    return (FAIL if failed else NONE), None


def _source(results: AuthenticationResults | None, authserv_id: str) -> str:
    """Return a Japanese sentence saying where the verdict comes from, or why there is none."""
    if not authserv_id.strip():
        return "staff.authserv_id が設定されていないため、局のメールサーバーの認証結果を読めません"
    if results is None:
        return f"局のメールサーバー（{authserv_id}）の認証結果（Authentication-Results）がありません"
    if not results.results:
        return f"局のメールサーバー（{authserv_id}）は認証の結果を記録していません"
    return f"局のメールサーバー（{authserv_id}）の Authentication-Results"


def _describe(entry: MethodResult) -> str:
    words = [f"{entry.method}={entry.result}", *(f"{name}={value}" for name, value in entry.properties.items())]
    return " ".join(words)


def _other_addresses(message: Message, from_address: str | None):
    """Yield the Reply-To and Sender addresses that differ from From, in header order."""
    seen: list[str] = []
    candidates = [("Reply-To", entry.address) for entry in message.reply_to]
    candidates += [("Sender", address) for _name, address in getaddresses(message.header_all("Sender"))]
    for header, address in candidates:
        if not address or review_items.same_address(address, from_address):
            continue
        if any(review_items.same_address(address, known) for known in seen):
            continue
        seen.append(address)
        yield OtherAddress(header, address)


def _cautions(verdict: str, others: tuple[OtherAddress, ...]):
    if verdict == FAIL:
        yield "送信元の認証に不合格です。差出人のアドレスを偽ったメールの可能性があります"
    elif verdict == NONE:
        yield "送信元の認証で差出人を確かめられません。差出人のアドレスは誰でも書けるため、それだけでは本人からとは言えません"
    for other in others:
        if other.header == "Reply-To":
            yield (f"返信先（Reply-To）の {other.address} は差出人と異なります。"
                   "このメールに手作業で返信すると、そのアドレスに届きます")
        else:
            yield f"送信者（Sender）の {other.address} は差出人と異なります"
