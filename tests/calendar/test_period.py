"""Tests of registration and renewal periods: expiry dates, deadlines and both counting readings."""

from __future__ import annotations

import datetime as dt

import pytest

from mailflow.config import RegistryConfig
from mailflow.registry.period import (
    Period,
    PeriodError,
    PeriodSettings,
    renewal_deadline,
    renewal_period,
    registration_period,
    term_end,
    three_years_passed_on,
)

D = dt.date
SAME_DAY = PeriodSettings(period_from_march_31="same_day")
NEXT_DAY = PeriodSettings(period_from_march_31="next_day")


# Registration day, the day three years have passed, the expiry date and the renewal
# deadline, worked out by hand with the registration day counted as the first day.
SAME_DAY_TABLE = [
    (D(2024, 3, 30), D(2027, 3, 30), D(2027, 3, 31), D(2027, 1, 31)),
    (D(2024, 3, 31), D(2027, 3, 31), D(2027, 3, 31), D(2027, 1, 31)),
    (D(2024, 4, 1), D(2027, 4, 1), D(2028, 3, 31), D(2028, 1, 31)),
    (D(2024, 4, 2), D(2027, 4, 2), D(2028, 3, 31), D(2028, 1, 31)),
    (D(2024, 2, 29), D(2027, 3, 1), D(2027, 3, 31), D(2027, 1, 31)),
    (D(2028, 2, 29), D(2031, 3, 1), D(2031, 3, 31), D(2031, 1, 31)),
    (D(2025, 2, 28), D(2028, 2, 28), D(2028, 3, 31), D(2028, 1, 31)),
    (D(2024, 12, 1), D(2027, 12, 1), D(2028, 3, 31), D(2028, 1, 31)),
    (D(2025, 1, 10), D(2028, 1, 10), D(2028, 3, 31), D(2028, 1, 31)),
]


@pytest.mark.parametrize(("registered", "passed", "expires", "deadline"), SAME_DAY_TABLE)
def test_period_same_day(registered: dt.date, passed: dt.date, expires: dt.date, deadline: dt.date) -> None:
    assert three_years_passed_on(registered, "same_day") == passed
    assert registration_period(registered, SAME_DAY) == Period(registered, expires, deadline)


# The two readings side by side. They differ only for a registration on 31 March. Counted
# from that day, the three years end on 30 March. Counted from the next day, they include
# 31 March and have passed only on 1 April, in the next fiscal year.
READINGS_TABLE = [
    # registered,   same_day passed, same_day expiry, next_day passed, next_day expiry
    (D(2024, 3, 30), D(2027, 3, 30), D(2027, 3, 31), D(2027, 3, 31), D(2027, 3, 31)),
    (D(2024, 3, 31), D(2027, 3, 31), D(2027, 3, 31), D(2027, 4, 1), D(2028, 3, 31)),
    (D(2023, 3, 31), D(2026, 3, 31), D(2026, 3, 31), D(2026, 4, 1), D(2027, 3, 31)),
    (D(2024, 4, 1), D(2027, 4, 1), D(2028, 3, 31), D(2027, 4, 2), D(2028, 3, 31)),
    (D(2024, 2, 29), D(2027, 3, 1), D(2027, 3, 31), D(2027, 3, 1), D(2027, 3, 31)),
    (D(2024, 2, 28), D(2027, 2, 28), D(2027, 3, 31), D(2027, 3, 1), D(2027, 3, 31)),
]


@pytest.mark.parametrize(("registered", "same_passed", "same_expires", "next_passed", "next_expires"), READINGS_TABLE)
def test_period_both_readings(
    registered: dt.date, same_passed: dt.date, same_expires: dt.date, next_passed: dt.date, next_expires: dt.date
) -> None:
    assert three_years_passed_on(registered, "same_day") == same_passed
    assert registration_period(registered, SAME_DAY).expires_on == same_expires
    assert three_years_passed_on(registered, "next_day") == next_passed
    assert registration_period(registered, NEXT_DAY).expires_on == next_expires


def test_readings_differ_only_march_31() -> None:
    day = D(2020, 1, 1)
    differing = []
    while day < D(2032, 1, 1):
        if registration_period(day, SAME_DAY) != registration_period(day, NEXT_DAY):
            differing.append(day)
        day += dt.timedelta(days=1)
    assert differing == [D(year, 3, 31) for year in range(2020, 2032)]


def test_same_day_fiscal_year_plus_three() -> None:
    # Every registration in fiscal year 2024 (2024-04-01 .. 2025-03-31) expires on 2028-03-31.
    day = D(2024, 4, 1)
    expiries = set()
    while day <= D(2025, 3, 31):
        expiries.add(registration_period(day).expires_on)
        day += dt.timedelta(days=1)
    assert expiries == {D(2028, 3, 31)}


@pytest.mark.parametrize(
    ("first_day", "years", "expected"),
    [
        (D(2024, 4, 1), 3, D(2027, 3, 31)),
        (D(2024, 2, 29), 3, D(2027, 2, 28)),  # no 29 February: the end of February
        (D(2024, 2, 29), 4, D(2028, 2, 28)),  # 29 February exists: the day before it
        (D(2024, 1, 1), 1, D(2024, 12, 31)),
    ],
)
def test_term_end_civil_code(first_day: dt.date, years: int, expected: dt.date) -> None:
    assert term_end(first_day, years) == expected


def test_deadline_two_months_before() -> None:
    assert renewal_deadline(D(2027, 3, 31)) == D(2027, 1, 31)


def test_deadline_rejects_non_march_31() -> None:
    with pytest.raises(PeriodError):
        renewal_deadline(D(2027, 3, 30))


# Old expiry date, decision date, the day the new period counts from, its expiry date.
RENEWAL_TABLE = [
    ("old_expiry", D(2027, 3, 31), D(2027, 2, 15), D(2027, 4, 1), D(2031, 3, 31)),
    ("old_expiry", D(2027, 3, 31), D(2027, 4, 10), D(2027, 4, 1), D(2031, 3, 31)),
    ("decision_date", D(2027, 3, 31), D(2027, 2, 15), D(2027, 2, 15), D(2030, 3, 31)),
    ("decision_date", D(2027, 3, 31), D(2027, 3, 31), D(2027, 3, 31), D(2030, 3, 31)),
    ("decision_date", D(2027, 3, 31), D(2027, 4, 10), D(2027, 4, 10), D(2031, 3, 31)),
]


@pytest.mark.parametrize(("start", "old_expires", "decided", "counts_from", "expires"), RENEWAL_TABLE)
def test_renewal_period(
    start: str, old_expires: dt.date, decided: dt.date, counts_from: dt.date, expires: dt.date
) -> None:
    period = renewal_period(old_expires, decided, PeriodSettings(renewal_period_from=start))
    assert period.registered_on == counts_from
    assert period.expires_on == expires
    assert period.renewal_deadline == D(expires.year, 1, 31)


def test_renewal_decision_march_31_next_day() -> None:
    settings = PeriodSettings(period_from_march_31="next_day", renewal_period_from="decision_date")
    assert renewal_period(D(2027, 3, 31), D(2027, 3, 31), settings).expires_on == D(2031, 3, 31)


def test_renewal_rejects_bad_expiry() -> None:
    with pytest.raises(PeriodError):
        renewal_period(D(2027, 4, 1), D(2027, 2, 15))


def test_settings_from_config() -> None:
    config = RegistryConfig(period_from_march_31="next_day", renewal_period_from="decision_date")
    assert PeriodSettings.from_config(config) == PeriodSettings("next_day", "decision_date")


def test_settings_reject_unknown() -> None:
    with pytest.raises(ValueError):
        PeriodSettings(period_from_march_31="previous_day")
