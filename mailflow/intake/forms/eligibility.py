"""Age and eligibility checks on Form 1: warnings for staff, never an automatic rejection.

The limits come from ``rules/eligibility.toml``. Each warning carries a code, the values
behind it and a Japanese sentence for staff. Requirements no machine can check (health,
the truth of the pledge, an exception granted by the bureau) become checklist lines.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path

from mailflow.intake.forms.registration import RegistrationRecord
from mailflow.paths import DEFAULT_RULES_DIR
from mailflow.rules import RuleFile, read_rule_file

logger = logging.getLogger(__name__)

RULE_FILE_NAME = "eligibility.toml"
EMPLOYED = "在職中"

# Warning codes are fixed names that later stages and staff tools match on. They name the
# limits of the current requirements; the limit in force is in each warning's values.
AGE_CODE = "age_under_50"
EXPERIENCE_CODE = "experience_under_10_years"
RETIREMENT_CODE = "not_retiring_within_1_year"


@dataclass(frozen=True)
class EligibilityRules:
    """``rules/eligibility.toml`` as typed values; build it with :func:`load_eligibility_rules`."""

    minimum_age: int
    minimum_experience_years: int
    retirement_within_days: int
    checklist: tuple[str, ...]


@dataclass(frozen=True)
class EligibilityWarning:
    """One requirement the form seems not to meet, for example ``code="age_under_50"``."""

    code: str
    message: str
    values: dict[str, object]


@dataclass
class Eligibility:
    """The age on the application date, the warnings and the staff checklist lines."""

    age: int | None
    warnings: list[EligibilityWarning] = field(default_factory=list)
    checklist: list[str] = field(default_factory=list)

    @property
    def codes(self) -> list[str]:
        return [warning.code for warning in self.warnings]


def load_eligibility_rules(rules_dir: Path = DEFAULT_RULES_DIR) -> EligibilityRules:
    """Read and check ``rules_dir/eligibility.toml``.

    Raises RulesError naming the file, key and value of every missing or invalid limit.
    """
    rule_file = read_rule_file(rules_dir, RULE_FILE_NAME)
    rules = EligibilityRules(
        minimum_age=_positive_int(rule_file, "age", "minimum"),
        minimum_experience_years=_positive_int(rule_file, "experience", "minimum_years"),
        retirement_within_days=_positive_int(rule_file, "retirement", "within_days"),
        checklist=tuple(rule_file.string_list("checklist.lines")),
    )
    rule_file.raise_if_problems()
    return rules


def _positive_int(rule_file: RuleFile, table: str, key: str) -> int:
    value = rule_file.table(table).get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        rule_file.problem(f"{table}.{key}", value, "正の整数でなければなりません")
        return 0
    return value


def age_reached_day(birth_date: dt.date, age: int) -> dt.date:
    """Return the day on which a person born on ``birth_date`` reaches ``age``.

    Japanese law counts a year of age as complete at the end of the day before the
    birthday, so that day is the day the age is reached. A 29 February birthday reaches
    it on 28 February in every year.
    """
    year = birth_date.year + age
    if birth_date.month == 2 and birth_date.day == 29:
        return dt.date(year, 2, 28)
    return dt.date(year, birth_date.month, birth_date.day) - dt.timedelta(days=1)


def age_on(birth_date: dt.date, day: dt.date) -> int:
    """Return the age of a person born on ``birth_date`` on ``day`` (see :func:`age_reached_day`)."""
    age = day.year - birth_date.year + 1
    while age > 0 and day < age_reached_day(birth_date, age):
        age -= 1
    return age


def check_eligibility(record: RegistrationRecord, rules: EligibilityRules) -> Eligibility:
    """Compute the age on the application date and the warnings and checklist for staff."""
    application_date = record.application_date
    age = None
    if record.birth_date and application_date:
        age = age_on(record.birth_date, application_date)
    result = Eligibility(age=age)
    _check_age(record, rules, result)
    _check_experience(record, rules, result)
    _check_retirement(record, rules, result)
    result.checklist.extend(rules.checklist)
    logger.debug("eligibility checked: warnings=%s", ",".join(result.codes) or "none")
    return result


def _check_age(record: RegistrationRecord, rules: EligibilityRules, result: Eligibility) -> None:
    if result.age is None:
        result.checklist.append("生年月日または申請日が読めないため、年齢要件を書類で確認してください")
        return
    if result.age < rules.minimum_age:
        result.warnings.append(EligibilityWarning(
            code=AGE_CODE,
            message=(f"申請日（{_japanese(record.application_date)}）時点の年齢は{result.age}歳で、"
                     f"{rules.minimum_age}歳未満です。"),
            values={"age": result.age, "birth_date": record.birth_date.isoformat(),
                    "application_date": record.application_date.isoformat(), "minimum": rules.minimum_age},
        ))
    if record.age is not None and record.age != result.age:
        result.checklist.append(
            f"記載の年齢（{record.age}歳）と生年月日から計算した申請日時点の年齢（{result.age}歳）が違います"
        )


def _check_experience(record: RegistrationRecord, rules: EligibilityRules, result: Eligibility) -> None:
    years = record.experience_years
    if years is None:
        result.checklist.append("当該分野の経験年数が読めないため、経験年数の要件を確認してください")
        return
    if years < rules.minimum_experience_years:
        result.warnings.append(EligibilityWarning(
            code=EXPERIENCE_CODE,
            message=f"当該分野の経験年数は{years}年で、{rules.minimum_experience_years}年未満です。",
            values={"experience_years": years, "minimum": rules.minimum_experience_years},
        ))


def _check_retirement(record: RegistrationRecord, rules: EligibilityRules, result: Eligibility) -> None:
    if record.employment_status is None:
        result.checklist.append("在職・退職の別が読めないため、退職（予定）の要件を確認してください")
        return
    if record.employment_status != EMPLOYED:
        return
    limit = rules.retirement_within_days
    values: dict[str, object] = {
        "employment_status": record.employment_status,
        "retirement_date": record.retirement_date.isoformat() if record.retirement_date else None,
        "application_date": record.application_date.isoformat() if record.application_date else None,
        "within_days": limit,
    }
    if record.retirement_date is None:
        message = f"在職中で、退職（予定）年月日が空欄です（申請日から{limit}日以内の退職が要件です）。"
    elif record.application_date is None:
        result.checklist.append("申請日が読めないため、退職予定日までの期間を確認してください")
        return
    else:
        days = (record.retirement_date - record.application_date).days
        values["days_until_retirement"] = days
        if days <= limit:
            return
        message = (f"在職中で、退職予定日（{_japanese(record.retirement_date)}）は申請日から{days}日後です"
                   f"（{limit}日以内が要件です）。")
    result.warnings.append(EligibilityWarning(RETIREMENT_CODE, message, values))


def _japanese(day: dt.date | None) -> str:
    return f"{day.year}年{day.month}月{day.day}日" if day else "不明"
