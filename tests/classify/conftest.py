"""Fixtures of the classification tests: the shipped message rules, loaded once."""

from __future__ import annotations

import pytest

from mailflow.intake.message_rules import MessageRules, load_message_rules


@pytest.fixture(scope="session")
def rules() -> MessageRules:
    return load_message_rules()
