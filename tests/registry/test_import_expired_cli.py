"""``mailflow registry import`` output for active rows whose expiry date has passed.

These tests run in their own module because the CLI migrates the database, while the
importer tests create the schema from the models.
"""

from __future__ import annotations

import pytest

from mailflow.cli import main
from tests.registry.test_import_expired import (  # noqa: F401
    BAD_ROW,
    LIST_CSV,
    frozen_today,
    write_list,
)

WARNING_HEADER = "注意: 満了日を過ぎた登録中の行が 2 行あります"


@pytest.mark.parametrize("options", [["--dry-run"], []])
def test_cli_report_warns(config_path, tmp_path, capsys, options) -> None:
    code = main(["--config", str(config_path), "registry", "import", *options, str(write_list(tmp_path))])
    output = capsys.readouterr().out
    assert code == 0
    assert WARNING_HEADER in output
    assert "  3行目 F列（満了日）: 満了日 2026-03-31 は過ぎています" in output
    assert "  5行目 F列（満了日）: 満了日 2025-03-31 は過ぎています" in output


def test_cli_report_with_errors(config_path, tmp_path, capsys) -> None:
    path = write_list(tmp_path, LIST_CSV + BAD_ROW)
    code = main(["--config", str(config_path), "registry", "import", str(path)])
    output = capsys.readouterr().out
    assert code == 1
    assert WARNING_HEADER in output
    assert "誤りが 1 か所あるため、何も取り込みませんでした" in output
