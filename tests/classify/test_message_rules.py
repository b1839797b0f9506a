"""The rules file and the rule registry: every problem named, duplicate names refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mailflow.intake.classify_rules import REGISTRY, DuplicateRuleError, MessageRule, RuleRegistry
from mailflow.intake.message_rules import KINDS, load_message_rules
from mailflow.paths import DEFAULT_RULES_DIR
from mailflow.rules import RulesError

SHIPPED = DEFAULT_RULES_DIR / "messages.toml"


def rules_dir_with(tmp_path: Path, text: str) -> Path:
    (tmp_path / "messages.toml").write_text(text, encoding="utf-8")
    return tmp_path


def problems_for(tmp_path: Path, old: str, new: str) -> list[str]:
    """Load the shipped file with ``old`` replaced by ``new`` and return the problems."""
    text = SHIPPED.read_text(encoding="utf-8")
    assert old in text
    with pytest.raises(RulesError) as raised:
        load_message_rules(rules_dir_with(tmp_path, text.replace(old, new, 1)))
    return raised.value.problems


def test_shipped_rules_load() -> None:
    rules = load_message_rules()
    assert [keyword_set.name for keyword_set in rules.keywords]


def test_shipped_keyword_kinds_known() -> None:
    for keyword_set in load_message_rules().keywords:
        assert keyword_set.kind in KINDS


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RulesError) as raised:
        load_message_rules(tmp_path)
    assert "messages.toml" in raised.value.problems[0]


def test_invalid_toml(tmp_path: Path) -> None:
    with pytest.raises(RulesError):
        load_message_rules(rules_dir_with(tmp_path, "[kinds\norder = ["))


def test_invalid_regex_named(tmp_path: Path) -> None:
    problems = problems_for(tmp_path, "'登録申請',", "'登録申請(',")
    assert any("keywords[0].subject" in problem and "'登録申請('" in problem for problem in problems)


def test_full_width_pattern_named(tmp_path: Path) -> None:
    problems = problems_for(tmp_path, "'質問',", "'質問？',")
    assert any("keywords[4].subject" in problem and "質問？" in problem for problem in problems)


def test_unknown_kind_named(tmp_path: Path) -> None:
    problems = problems_for(tmp_path, 'kind = "withdrawal"', 'kind = "resignation"')
    assert any("keywords[3].kind" in problem and "'resignation'" in problem for problem in problems)


def test_duplicate_keyword_name(tmp_path: Path) -> None:
    problems = problems_for(tmp_path, 'name = "renewal"', 'name = "registration"')
    assert any("keywords[1].name" in problem and "'registration'" in problem for problem in problems)


def test_keyword_kind_missing_from_order(tmp_path: Path) -> None:
    problems = problems_for(tmp_path, '    "inquiry",\n]', "]")
    assert any("kinds.order" in problem and "inquiry" in problem for problem in problems)


def test_bad_weight_named(tmp_path: Path) -> None:
    problems = problems_for(tmp_path, "subject = 3 ", 'subject = "three" ')
    assert any("weights.subject" in problem and "'three'" in problem for problem in problems)


def test_bad_auto_reply_prefix_named(tmp_path: Path) -> None:
    problems = problems_for(tmp_path, "subject_prefixes = [", "subject_prefixes = ['(',")
    assert any("auto_reply.subject_prefixes" in problem for problem in problems)


def test_problem_names_file(tmp_path: Path) -> None:
    problems = problems_for(tmp_path, "decisive = true", 'decisive = "yes"')
    assert any(str(tmp_path / "messages.toml") in problem for problem in problems)


def test_every_problem_reported(tmp_path: Path) -> None:
    text = SHIPPED.read_text(encoding="utf-8")
    text = text.replace('kind = "withdrawal"', 'kind = "resignation"').replace("body = 1 ", "body = -1 ")
    with pytest.raises(RulesError) as raised:
        load_message_rules(rules_dir_with(tmp_path, text))
    assert len(raised.value.problems) >= 2


def test_copied_rules_dir(tmp_path: Path) -> None:
    shutil.copy(SHIPPED, tmp_path / "messages.toml")
    assert load_message_rules(tmp_path).kind_order == load_message_rules().kind_order


class _Sample(MessageRule):
    name = "sample"
    description = "試験用の規則"


def test_registry_duplicate_name() -> None:
    registry = RuleRegistry()
    registry.register(_Sample())
    with pytest.raises(DuplicateRuleError):
        registry.register(_Sample())


@pytest.mark.parametrize("rule", list(REGISTRY), ids=lambda rule: rule.name)
def test_registry_rule_described(rule: MessageRule) -> None:
    assert rule.name
    assert rule.description
