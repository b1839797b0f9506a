"""Render the Japanese mail templates: the first line is ``Subject: …``, the rest the body."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

from mailflow.errors import MailflowError


class TemplateError(MailflowError):
    """A template is missing, invalid, or lacks its ``Subject:`` line."""


class Renderer:
    """Render templates from one folder; undefined variables are errors, never blanks."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.environment = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(directory), encoding="utf-8"),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )

    def render(self, name: str, **context: Any) -> tuple[str, str]:
        """Return (subject, body) of template ``name`` (without the ``.txt.j2`` suffix)."""
        filename = f"{name}.txt.j2"
        try:
            text = self.environment.get_template(filename).render(**context)
        except jinja2.TemplateNotFound:
            raise TemplateError(f"メールのテンプレート {self.directory / filename} が見つかりません") from None
        except jinja2.TemplateError as exc:
            raise TemplateError(f"メールのテンプレート {filename} を展開できません: {exc}") from exc
        # Only the first line is the subject: trim_blocks may eat the blank line after a
        # block tag that ends the subject line.
        head, _, body = text.partition("\n")
        if not head.startswith("Subject:"):
            raise TemplateError(f"メールのテンプレート {filename} の1行目は「Subject: 件名」にしてください")
        subject = " ".join(head[len("Subject:"):].split())
        return subject, body.lstrip("\n")
