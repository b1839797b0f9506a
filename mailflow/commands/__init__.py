"""One module per command group; each exposes ``register(subparsers)``."""

from __future__ import annotations

import importlib

MODULES = ("run", "inspect", "db", "queue", "calendar", "registry", "doctor", "purge", "key", "person")


def register_all(subparsers) -> None:
    for name in MODULES:
        importlib.import_module(f"mailflow.commands.{name}").register(subparsers)
