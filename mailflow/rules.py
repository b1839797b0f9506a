"""Read ``rules/*.toml``; each consumer turns the tables into its own typed objects.

Problems are collected, not raised one at a time, so that start-up can report every bad
rule at once with the file, the key and the value.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mailflow.errors import MailflowError


class RulesError(MailflowError):
    """One or more rule files are invalid; ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("ルールファイルに誤りがあります:\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass
class RuleFile:
    """The parsed tables of one rule file and the problems found while reading it.

    Consumers call the ``require_*``/``optional_*`` helpers, which record a problem and
    return a fallback instead of raising, then call :meth:`raise_if_problems` once.
    """

    path: Path
    data: dict[str, Any]
    problems: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.name

    def problem(self, key: str, value: object, text: str) -> None:
        self.problems.append(f"{self.path}: {key} = {value!r}: {text}")

    def table(self, key: str) -> dict[str, Any]:
        value = _lookup(self.data, key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.problem(key, value, "表でなければなりません")
            return {}
        return value

    def string_list(self, key: str) -> list[str]:
        value = _lookup(self.data, key)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem(key, value, "文字列の配列でなければなりません")
            return []
        return value

    def patterns(self, key: str, values: list[str]) -> list[re.Pattern[str]]:
        compiled = []
        for value in values:
            try:
                compiled.append(re.compile(value))
            except re.error as exc:
                self.problem(key, value, f"正規表現として不正です（{exc}）")
        return compiled

    def raise_if_problems(self) -> None:
        if self.problems:
            raise RulesError(self.problems)


def _lookup(data: dict[str, Any], dotted: str) -> Any:
    value: Any = data
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def read_rule_file(rules_dir: Path, name: str) -> RuleFile:
    """Read ``rules_dir/name`` as TOML.

    Raises RulesError when the file is missing or is not valid TOML.
    """
    path = Path(rules_dir) / name
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RulesError([f"{path}: ルールファイルが見つかりません"]) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RulesError([f"{path}: TOML として読めません: {exc}"]) from None
    return RuleFile(path=path, data=data)
