"""Entry point for ``python -m mailflow``."""

from mailflow.cli import entry_point

raise SystemExit(entry_point())
