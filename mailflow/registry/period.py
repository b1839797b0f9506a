"""Registration periods: expiry dates and renewal deadlines, counted as Japanese law counts.

A registration period ends on 31 March of the fiscal year (1 April - 31 March) that contains
the day on which three years from the registration day have passed. The three years follow
the Civil Code (民法 143 条 2 項): a period in years ends on the day before the corresponding
day of its first counted day. When that corresponding day does not exist (29 February in a
common year), the period ends on the last day of the month. "The day three years have
passed" (3年を経過した日) is the day after the three years end.

Worked examples with the default ``same_day`` counting:

    registered 2024-04-01: three years end 2027-03-31, passed on 2027-04-01 -> expires 2028-03-31
    registered 2024-03-31: three years end 2027-03-30, passed on 2027-03-31 -> expires 2027-03-31
    registered 2024-02-29: three years end 2027-02-28, passed on 2027-03-01 -> expires 2027-03-31

So a registration in fiscal year N expires at the end of fiscal year N + 3. The renewal
deadline is two months before the expiry date, which makes it 31 January.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from mailflow.calendar import format_japanese_date
from mailflow.config import RegistryConfig
from mailflow.errors import MailflowError

TERM_YEARS = 3
RENEWAL_DEADLINE_MONTHS = 2


class PeriodError(MailflowError):
    """Invalid date for the period rules, such as an expiry date that is not 31 March."""


class PeriodCounting(StrEnum):
    """First counted day of the three years; config key ``registry.period_from_march_31``.

    ``same_day`` counts the registration day itself as the first day (登録日から起算して).
    ``next_day`` leaves the registration day out (民法 140 条, 初日不算入) and counts from
    the day after. The two give different expiry dates only for a registration on 31 March.
    With ``same_day`` the three years end on 30 March three years later, so they have passed
    on 31 March and the period expires that day. With ``next_day`` the three years include
    that 31 March, so they have passed on 1 April and the period runs one more fiscal year.
    """

    SAME_DAY = "same_day"
    NEXT_DAY = "next_day"


class RenewalStart(StrEnum):
    """Start of a renewed period; config key ``registry.renewal_period_from``.

    ``old_expiry`` counts from the day after the old expiry date (always 1 April), so the
    renewed period joins the old one without a gap. ``decision_date`` counts from the day
    staff approved the renewal, as for a new registration on that day.
    """

    OLD_EXPIRY = "old_expiry"
    DECISION_DATE = "decision_date"


@dataclass(frozen=True)
class PeriodSettings:
    """The two readings of the period rules that the bureau chooses in ``config.toml``."""

    period_from_march_31: PeriodCounting = PeriodCounting.SAME_DAY
    renewal_period_from: RenewalStart = RenewalStart.OLD_EXPIRY

    def __post_init__(self) -> None:
        # Accept the plain strings of the config file as well; a wrong one raises ValueError.
        object.__setattr__(self, "period_from_march_31", PeriodCounting(self.period_from_march_31))
        object.__setattr__(self, "renewal_period_from", RenewalStart(self.renewal_period_from))

    @classmethod
    def from_config(cls, registry: RegistryConfig) -> PeriodSettings:
        """Build the settings from the validated ``[registry]`` section of the config."""
        return cls(
            period_from_march_31=PeriodCounting(registry.period_from_march_31),
            renewal_period_from=RenewalStart(registry.renewal_period_from),
        )


@dataclass(frozen=True)
class Period:
    """One registration period, for example
    ``Period(registered_on=2024-06-10, expires_on=2028-03-31, renewal_deadline=2028-01-31)``.

    ``registered_on`` is the day the period counts from: the registration day, or for a
    renewal the day the renewed period starts.
    """

    registered_on: dt.date
    expires_on: dt.date
    renewal_deadline: dt.date


def corresponding_day(start: dt.date, years: int) -> dt.date | None:
    """Return the same month and day ``years`` later, or None when that day does not exist."""
    try:
        return start.replace(year=start.year + years)
    except ValueError:
        return None


def term_end(first_day: dt.date, years: int) -> dt.date:
    """Return the last day of a period of ``years`` years whose first counted day is ``first_day``.

    The period ends on the day before the corresponding day (民法 143 条 2 項). When there
    is no corresponding day (from 29 February into a common year), it ends on the last day
    of that month, 28 February.
    """
    corresponding = corresponding_day(first_day, years)
    if corresponding is None:
        year = first_day.year + years
        return dt.date(year, first_day.month, calendar.monthrange(year, first_day.month)[1])
    return corresponding - dt.timedelta(days=1)


def three_years_passed_on(registered_on: dt.date, counting: PeriodCounting | str) -> dt.date:
    """Return the day on which three years from ``registered_on`` have passed (3年を経過した日).

    For example 2027-03-31 for a registration on 2024-03-31 with ``same_day`` counting, and
    2027-04-01 with ``next_day`` counting.
    """
    first_day = registered_on
    if PeriodCounting(counting) is PeriodCounting.NEXT_DAY:
        first_day = registered_on + dt.timedelta(days=1)
    return term_end(first_day, TERM_YEARS) + dt.timedelta(days=1)


def fiscal_year(day: dt.date) -> int:
    """Return the fiscal year (年度) that contains ``day``, named by the year it starts in."""
    return day.year if day.month >= 4 else day.year - 1


def fiscal_year_end(day: dt.date) -> dt.date:
    """Return 31 March that ends the fiscal year containing ``day``."""
    return dt.date(fiscal_year(day) + 1, 3, 31)


def renewal_deadline(expires_on: dt.date) -> dt.date:
    """Return the renewal deadline, two months before ``expires_on`` (31 March -> 31 January).

    Raises PeriodError when ``expires_on`` is not 31 March.
    """
    check_expiry_date(expires_on)
    month_index = expires_on.year * 12 + expires_on.month - 1 - RENEWAL_DEADLINE_MONTHS
    year, month = divmod(month_index, 12)
    last_day = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(expires_on.day, last_day))


def check_expiry_date(expires_on: dt.date) -> None:
    """Raise PeriodError unless ``expires_on`` is 31 March, the only possible expiry date."""
    if (expires_on.month, expires_on.day) != (3, 31):
        raise PeriodError(
            f"登録期間満了日 {expires_on.isoformat()} は 3 月 31 日ではありません。"
            "登録期間満了日は年度末（3 月 31 日）です。登録簿の値を確認してください",
            expires_on=expires_on.isoformat(),
        )


def registration_period(registered_on: dt.date, setting: PeriodSettings | None = None) -> Period:
    """Return the period of a registration made on ``registered_on``.

    For example 2024-03-31 gives expiry 2027-03-31 and deadline 2027-01-31 with the default
    settings, and expiry 2028-03-31 with ``period_from_march_31 = "next_day"``.
    """
    setting = setting or PeriodSettings()
    passed_on = three_years_passed_on(registered_on, setting.period_from_march_31)
    expires_on = fiscal_year_end(passed_on)
    return Period(registered_on, expires_on, renewal_deadline(expires_on))


def renewal_period(
    old_expires_on: dt.date, decided_on: dt.date, setting: PeriodSettings | None = None
) -> Period:
    """Return the period that a renewal approved on ``decided_on`` gives.

    With ``renewal_period_from = "old_expiry"`` (the default) the new period counts from the
    day after ``old_expires_on``: 2027-03-31 gives 2027-04-01 .. 2031-03-31, whatever the
    decision date. With ``"decision_date"`` it is counted like a registration on
    ``decided_on``: a decision on 2027-02-15 gives 2027-02-15 .. 2030-03-31.

    Raises PeriodError when ``old_expires_on`` is not 31 March.
    """
    setting = setting or PeriodSettings()
    check_expiry_date(old_expires_on)
    if setting.renewal_period_from is RenewalStart.DECISION_DATE:
        return registration_period(decided_on, setting)
    return registration_period(old_expires_on + dt.timedelta(days=1), setting)


class HasExpiry(Protocol):
    """Anything with the expiry date of a registration, such as a ``Mentor`` row."""

    expires_on: dt.date | None


def late_renewal_warning(mentor: HasExpiry, received_on: dt.date) -> dict[str, Any] | None:
    """Return a warning for staff when a renewal for ``mentor`` arrives after the renewal deadline.

    The intake stage calls this when it links a renewal application to a mentor, and
    files the application anyway: a late renewal is taken in and flagged, never refused.
    Returns None when the renewal is on time or the mentor has no valid expiry date, else
    a warning such as ``{"code": "late_renewal", "message": "…", "values": {"received_on":
    "2027-02-03", "renewal_deadline": "2027-01-31", "expires_on": "2027-03-31"}}``. The
    code is ``renewal_after_expiry`` when it arrives after the expiry date itself.
    """
    expires_on = mentor.expires_on
    if expires_on is None:
        return None
    try:
        deadline = renewal_deadline(expires_on)
    except PeriodError:
        return None
    if received_on <= deadline:
        return None
    values = {
        "received_on": received_on.isoformat(),
        "renewal_deadline": deadline.isoformat(),
        "expires_on": expires_on.isoformat(),
    }
    if received_on > expires_on:
        message = (
            f"登録期間満了日（{format_japanese_date(expires_on)}）を過ぎてから届いた更新申請です"
            f"（受付日 {format_japanese_date(received_on)}）。登録が取り消し済みでないか確認してください"
        )
        return {"code": "renewal_after_expiry", "message": message, "values": values}
    message = (
        f"更新手続期限（{format_japanese_date(deadline)}）を過ぎてから届いた更新申請です"
        f"（受付日 {format_japanese_date(received_on)}）。受け付けるかどうか判断してください"
    )
    return {"code": "late_renewal", "message": message, "values": values}
