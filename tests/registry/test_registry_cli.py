"""``mailflow registry`` and ``mailflow doctor`` through the command line, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

from mailflow.cli import main
from mailflow.commands.registry import ProgressBar
from mailflow.registry.mentors import REVOCATION_REASONS, STATUS_LABELS

LIST_CSV = (
    "登録番号,氏名,メールアドレス,登録日,満了日,状態\r\n"
    "MM-2024-0001,山田 太郎,taro@example.jp,2024/4/1,2028/3/31,登録中\r\n"
    "MM-2023-0002,佐藤 花子,hanako@example.jp,2023/6/1,,取り消し（局の判断）\r\n"
)


def cli(config_path: Path, *argv: str) -> int:
    return main(["--config", str(config_path), *argv])


def write_list(tmp_path: Path) -> Path:
    path = tmp_path / "list.csv"
    path.write_bytes(LIST_CSV.encode("cp932"))
    return path


def test_import_report(config_path, tmp_path, capsys) -> None:
    code = cli(config_path, "registry", "import", str(write_list(tmp_path)))
    assert code == 0
    assert "2行を取り込みました: 新規 2名、更新 0名、変更なし 0名" in capsys.readouterr().out


def test_reimport_report(config_path, tmp_path, capsys) -> None:
    cli(config_path, "registry", "import", str(write_list(tmp_path)))
    capsys.readouterr()
    cli(config_path, "registry", "import", str(write_list(tmp_path)))
    assert "新規 0名、更新 0名、変更なし 2名" in capsys.readouterr().out


def test_import_errors_exit_code(config_path, tmp_path, capsys) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("氏名,登録日,メールアドレス\n山田 太郎,2024/4/31,taro@example.jp\n", encoding="utf-8")
    code = cli(config_path, "registry", "import", str(path))
    output = capsys.readouterr().out
    assert code == 1
    assert "誤りが 1 か所あるため、何も取り込みませんでした" in output
    assert "2行目 B列（登録日）: 日付として読めません: '2024/4/31'" in output


def test_list_json_status_filter(config_path, tmp_path, capsys) -> None:
    cli(config_path, "registry", "import", str(write_list(tmp_path)))
    capsys.readouterr()
    assert cli(config_path, "registry", "list", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(m["registration_number"], m["expires_on"], m["renewal_deadline"]) for m in listed] == [
        ("MM-2024-0001", "2028-03-31", "2028-01-31")]


def test_list_all_statuses(config_path, tmp_path, capsys) -> None:
    cli(config_path, "registry", "import", str(write_list(tmp_path)))
    capsys.readouterr()
    cli(config_path, "registry", "list", "--status", "all", "--json")
    assert [m["status"] for m in json.loads(capsys.readouterr().out)] == ["revoked", "active"]


def test_show_by_number(config_path, tmp_path, capsys) -> None:
    cli(config_path, "registry", "import", str(write_list(tmp_path)))
    capsys.readouterr()
    assert cli(config_path, "registry", "show", "mm-2024-0001", "--json") == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["name"] == "山田 太郎"
    assert [entry["action"] for entry in shown["history"]] == ["imported"]


def test_show_unknown(config_path, capsys) -> None:
    assert cli(config_path, "registry", "show", "MM-1999-0001") == 1
    assert "見つかりません" in capsys.readouterr().err


def test_export_file(config_path, tmp_path, capsys) -> None:
    cli(config_path, "registry", "import", str(write_list(tmp_path)))
    capsys.readouterr()
    target = tmp_path / "out" / "registry.xlsx"
    assert cli(config_path, "registry", "export", str(target)) == 0
    assert target.is_file()
    assert os.stat(target).st_mode & 0o077 == 0


def test_export_needs_xlsx(config_path, tmp_path, capsys) -> None:
    assert cli(config_path, "registry", "export", str(tmp_path / "registry.csv")) == 2


class Terminal(io.StringIO):
    """A stand-in for stderr that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_progress_bar_on_terminal(monkeypatch) -> None:
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    bar = ProgressBar("取り込み中")
    bar.update(1, 2)
    bar.update(2, 2)
    assert terminal.getvalue() == ("\r取り込み中 [" + "#" * 15 + "." * 15 + "] 1/2"
                                   "\r取り込み中 [" + "#" * 30 + "] 2/2\n")


def test_progress_bar_silent_in_pipe(monkeypatch) -> None:
    pipe = io.StringIO()
    monkeypatch.setattr(sys, "stderr", pipe)
    ProgressBar("取り込み中").update(1, 2)
    assert pipe.getvalue() == ""


def show_text(config_path, tmp_path, capsys) -> list[str]:
    """Import the list, revoke MM-2024-0001 as not renewed and return its ``registry show`` lines."""
    cli(config_path, "registry", "import", str(write_list(tmp_path)))
    assert cli(config_path, "registry", "revoke", "MM-2024-0001", "--reason", "not_renewed", "--actor", "kanri") == 0
    capsys.readouterr()
    assert cli(config_path, "registry", "show", "MM-2024-0001") == 0
    return capsys.readouterr().out.splitlines()


def test_show_reason_japanese(config_path, tmp_path, capsys) -> None:
    lines = show_text(config_path, tmp_path, capsys)
    status = f"状態: {STATUS_LABELS['revoked']}（理由: {REVOCATION_REASONS['not_renewed']}）"
    assert status in lines


def test_show_history_japanese(config_path, tmp_path, capsys) -> None:
    lines = show_text(config_path, tmp_path, capsys)
    history = lines[lines.index("変更の履歴:") + 1:]
    assert history[0].endswith(" 一覧から取り込み: 登録番号、氏名、メールアドレス、登録日、登録期間満了日、状態（実行: cli:registry-import）")
    assert history[1].endswith(" 登録取り消し（局の判断）: 状態、理由（実行: kanri）")


def test_show_json_keeps_codes(config_path, tmp_path, capsys) -> None:
    show_text(config_path, tmp_path, capsys)
    cli(config_path, "registry", "show", "MM-2024-0001", "--json")
    mentor = json.loads(capsys.readouterr().out)
    assert mentor["status_reason"] == "not_renewed"
    assert [sorted(entry["changes"]) for entry in mentor["history"]][1] == ["status", "status_reason"]
    assert [entry["action"] for entry in mentor["history"]] == ["imported", "revoked"]
