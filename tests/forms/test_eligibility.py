"""Age on the application date and the eligibility warnings, never a rejection."""

from __future__ import annotations

import datetime as dt
import shutil
from functools import lru_cache
from pathlib import Path

import pytest

from mailflow.intake.forms.eligibility import age_on, check_eligibility, load_eligibility_rules
from mailflow.intake.forms.registration import RegistrationRecord, read_registration
from mailflow.intake.text import document_text
from mailflow.paths import DEFAULT_RULES_DIR
from mailflow.rules import RulesError
from tests.forms.mailfiles import attachment_with_role, expected

ELIGIBILITY_CODES = {"age_under_50", "experience_under_10_years", "not_retiring_within_1_year"}

AGES = [
    # (birth date, day, age)
    (dt.date(1960, 4, 2), dt.date(2010, 4, 1), 50),
    (dt.date(1960, 4, 2), dt.date(2010, 3, 31), 49),
    (dt.date(1960, 4, 2), dt.date(2010, 4, 2), 50),
    (dt.date(1976, 12, 9), dt.date(2026, 12, 8), 50),
    (dt.date(1976, 12, 9), dt.date(2026, 12, 7), 49),
    (dt.date(1976, 12, 10), dt.date(2026, 12, 8), 49),
    (dt.date(1960, 1, 1), dt.date(2009, 12, 31), 50),
    (dt.date(1960, 1, 1), dt.date(2009, 12, 30), 49),
    (dt.date(1960, 3, 1), dt.date(2012, 2, 29), 52),
    (dt.date(1960, 3, 1), dt.date(2011, 2, 28), 51),
    (dt.date(1960, 3, 1), dt.date(2011, 2, 27), 50),
    (dt.date(1960, 2, 29), dt.date(2010, 2, 28), 50),
    (dt.date(1960, 2, 29), dt.date(2010, 2, 27), 49),
    (dt.date(1960, 2, 29), dt.date(2012, 2, 28), 52),
    (dt.date(1960, 2, 29), dt.date(2012, 2, 27), 51),
    (dt.date(1960, 2, 29), dt.date(2012, 2, 29), 52),
    (dt.date(1960, 2, 29), dt.date(2011, 3, 1), 51),
]


@pytest.mark.parametrize(("birth", "day", "age"), AGES)
def test_age_reached_day_before_birthday(birth, day, age):
    assert age_on(birth, day) == age


@pytest.fixture(scope="module")
def rules():
    return load_eligibility_rules()


@lru_cache(maxsize=None)
def sample_record(number: str) -> RegistrationRecord:
    payload, sniffed, _ = attachment_with_role(number, "registration_form")
    return read_registration(document_text(payload, sniffed).grids)


@pytest.mark.parametrize("number", ["01", "02", "04", "05", "06", "07", "14", "16"])
def test_sample_eligibility_warnings(number, rules):
    """The sample JSON's eligibility warnings, for every mail with a Form 1."""
    wanted = sorted(set(expected(number)["warnings"]) & ELIGIBILITY_CODES)
    assert sorted(check_eligibility(sample_record(number), rules).codes) == wanted


@pytest.mark.parametrize("number", ["01", "02", "04", "05", "06", "07", "14", "16"])
def test_sample_age_matches_form(number, rules):
    assert check_eligibility(sample_record(number), rules).age == expected(number)["applicant"]["age"]


def test_age_warning_values(rules):
    result = check_eligibility(sample_record("06"), rules)
    warning = next(w for w in result.warnings if w.code == "age_under_50")
    assert warning.values["age"] == 45
    assert warning.values["minimum"] == 50
    assert "45歳" in warning.message


def test_retirement_blank_warning(rules):
    result = check_eligibility(sample_record("06"), rules)
    warning = next(w for w in result.warnings if w.code == "not_retiring_within_1_year")
    assert warning.values["retirement_date"] is None
    assert "空欄" in warning.message


def make_record(**values) -> RegistrationRecord:
    base = dict(application_date=dt.date(2026, 12, 1), birth_date=dt.date(1960, 4, 1), age=66,
                employment_status="退職済", experience_years=30)
    base.update(values)
    return RegistrationRecord(**base)


RETIREMENTS = [
    (dt.date(2027, 12, 1), []),
    (dt.date(2027, 12, 2), ["not_retiring_within_1_year"]),
    (None, ["not_retiring_within_1_year"]),
]


@pytest.mark.parametrize(("retirement", "codes"), RETIREMENTS)
def test_retirement_within_365_days(retirement, codes, rules):
    record = make_record(employment_status="在職中", retirement_date=retirement)
    assert check_eligibility(record, rules).codes == codes


def test_experience_under_ten_years(rules):
    result = check_eligibility(make_record(experience_years=9), rules)
    assert result.codes == ["experience_under_10_years"]
    assert result.warnings[0].values["experience_years"] == 9


def test_experience_ten_years_passes(rules):
    assert check_eligibility(make_record(experience_years=10), rules).codes == []


def test_age_fifty_on_day_before_birthday(rules):
    record = make_record(birth_date=dt.date(1976, 12, 2), age=50)
    assert check_eligibility(record, rules).codes == []


def test_checklist_has_manual_requirements(rules):
    checklist = check_eligibility(make_record(), rules).checklist
    assert any("健康" in line for line in checklist)
    assert any("誓約書" in line for line in checklist)
    assert any("例外" in line for line in checklist)


def test_written_age_mismatch_on_checklist(rules):
    checklist = check_eligibility(make_record(age=60), rules).checklist
    assert any("60歳" in line and "66歳" in line for line in checklist)


def test_unreadable_birth_date_on_checklist(rules):
    result = check_eligibility(make_record(birth_date=None), rules)
    assert result.age is None
    assert any("年齢要件" in line for line in result.checklist)


def test_invalid_rules_name_key_and_value(tmp_path: Path):
    shutil.copy(DEFAULT_RULES_DIR / "eligibility.toml", tmp_path / "eligibility.toml")
    path = tmp_path / "eligibility.toml"
    path.write_text(path.read_text(encoding="utf-8").replace("minimum = 50", 'minimum = "五十"'), encoding="utf-8")
    with pytest.raises(RulesError) as raised:
        load_eligibility_rules(tmp_path)
    assert "eligibility.toml" in str(raised.value)
    assert "age.minimum" in str(raised.value)
    assert "五十" in str(raised.value)
