"""Locations of the rule files and mail templates that ship with the checkout."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RULES_DIR = PROJECT_ROOT / "rules"
DEFAULT_TEMPLATES_DIR = PROJECT_ROOT / "templates"
