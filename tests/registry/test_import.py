"""Registry import: valid lists in each format, a list with errors, re-imports and the export round trip.

Expected expiry dates are computed by hand: a registration in fiscal year N (1 April -
31 March) expires on 31 March of N + 4, except one on 31 March, which expires three years
later (2024-03-31 -> 2027-03-31).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from mailflow.db.models import AuditEntry, Mentor, MentorHistory
from mailflow.db.session import transaction
from mailflow.registry.export import export_registry
from mailflow.registry.importer import import_registry
from mailflow.registry.period import PeriodSettings
from mailflow.registry.table import TableError
from tests.planning.database import add_mentor

HEADER = "登録番号,氏名,ふりがな,メールアドレス,登録日,満了日,専門分野,状態"
VALID_ROWS = [
    "MM-2024-0001,山田 太郎,やまだ たろう,taro@example.jp,2024/4/1,2028/3/31,経営戦略、財務,登録中",
    "MM-2023-0002,佐藤 花子,さとう はなこ,hanako@example.jp,令和5年6月1日,,人事・労務,",
    "ＭＭ－２０２３－０００３,鈴木 一郎,,ichiro@example.jp,2024-03-31,2027-03-31,,取り消し（本人の申し出）",
]
# (registration number, name, registered on, expires on, status, fields) as stored.
VALID_EXPECTED = [
    ("MM-2023-0002", "佐藤 花子", dt.date(2023, 6, 1), dt.date(2027, 3, 31), "active", ["人事", "労務"]),
    ("MM-2023-0003", "鈴木 一郎", dt.date(2024, 3, 31), dt.date(2027, 3, 31), "withdrawn", []),
    ("MM-2024-0001", "山田 太郎", dt.date(2024, 4, 1), dt.date(2028, 3, 31), "active", ["経営戦略", "財務"]),
]

# Every problem in this list, as (row, column letter or "", words of the message).
ERROR_ROWS = [
    "MM-2024-0001,山田 太郎,やまだ たろう,taro@example.jp,2024/4/1,2028/3/31,,",
    "MM-2024-0002,,,jiro@example.jp,2024/13/01,,,",
    "MM-2024-0003,高橋 三郎,,not-an-address,2024/5/1,2028/3/30,,",
    "MM-2024-0004,田中 四郎,,shiro@example.jp,2024/5/1,2027/3/31,,",
    "MM-2024-0001,伊藤 五郎,,goro@example.jp,2024/5/1,,,休止中",
    "MM-2024-0006,渡辺 六郎,,TARO@example.jp,2024/5/1,,,",
    ",小林 七郎,,,2024/5/1,,,",
]
EXPECTED_PROBLEMS = [
    (3, "B", "氏名がありません"),
    (3, "E", "日付として読めません: '2024/13/01'"),
    (4, "D", "メールアドレスの形式が正しくありません: 'not-an-address'"),
    (4, "F", "満了日 2028-03-30 が3月31日ではありません"),
    (5, "F", "満了日 2027-03-31 が登録日 2024-05-01 から決まる満了日と合いません"),
    (6, "H", "状態 '休止中' は使えません"),
    (6, "A", "登録番号が 2行目と同じです"),
    (7, "D", "メールアドレスが 2行目と同じです"),
    (8, "A", "登録番号かメールアドレスのどちらかが必要です"),
]


def write_csv(path: Path, rows: list[str], encoding: str = "utf-8-sig") -> Path:
    path.write_bytes(("\r\n".join([HEADER, *rows]) + "\r\n").encode(encoding))
    return path


def run_import(sessions: sessionmaker[Session], path: Path, **options):
    return import_registry(sessions, path, PeriodSettings(), actor="test", **options)


def stored(sessions: sessionmaker[Session]) -> list[tuple]:
    with transaction(sessions) as session:
        mentors = session.scalars(select(Mentor).order_by(Mentor.registration_number))
        return [(m.registration_number, m.name, m.registered_on, m.expires_on, m.status, list(m.fields or []))
                for m in mentors]


def count(sessions: sessionmaker[Session], model) -> int:
    with transaction(sessions) as session:
        return session.scalar(select(func.count()).select_from(model))


def test_valid_csv_utf8(sessions, tmp_path) -> None:
    result = run_import(sessions, write_csv(tmp_path / "list.csv", VALID_ROWS))
    assert result.problems == []
    assert result.created == [2, 3, 4]
    assert stored(sessions) == VALID_EXPECTED


def test_valid_csv_cp932(sessions, tmp_path) -> None:
    run_import(sessions, write_csv(tmp_path / "list.csv", VALID_ROWS, "cp932"))
    assert stored(sessions) == VALID_EXPECTED


def test_valid_csv_without_bom(sessions, tmp_path) -> None:
    run_import(sessions, write_csv(tmp_path / "list.csv", VALID_ROWS, "utf-8"))
    assert stored(sessions) == VALID_EXPECTED


def test_valid_xlsx_english_headings(sessions, tmp_path) -> None:
    # Columns in another order, English headings, a date cell, an era date and a serial number.
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["name", "registration_number", "registered_on", "expires_on", "email", "status"])
    sheet.append(["山田 太郎", "MM-2024-0001", dt.datetime(2024, 4, 1), dt.datetime(2028, 3, 31), "taro@example.jp", "active"])
    sheet.append(["佐藤 花子", "MM-2023-0002", "令和5年6月1日", None, "hanako@example.jp", None])
    # 45382 is the Excel serial number of 2024-03-31.
    sheet.append(["鈴木 一郎", "MM-2023-0003", 45382, None, "ichiro@example.jp", "withdrawn"])
    path = tmp_path / "list.xlsx"
    workbook.save(path)
    result = run_import(sessions, path)
    assert result.problems == []
    assert [row[:5] for row in stored(sessions)] == [row[:5] for row in VALID_EXPECTED]


def test_errors_reported_by_cell(sessions, tmp_path) -> None:
    result = run_import(sessions, write_csv(tmp_path / "list.csv", ERROR_ROWS))
    found = {(p.row, "" if p.column is None else "ABCDEFGH"[p.column - 1]): str(p) for p in result.problems}
    assert len(result.problems) == len(EXPECTED_PROBLEMS)
    assert sorted(found) == sorted((row, column) for row, column, _words in EXPECTED_PROBLEMS)
    for row, column, words in EXPECTED_PROBLEMS:
        assert words in found[(row, column)], (row, column)


def test_errors_import_nothing(sessions, tmp_path) -> None:
    result = run_import(sessions, write_csv(tmp_path / "list.csv", ERROR_ROWS))
    assert not result.committed
    assert count(sessions, Mentor) == 0


def test_problem_text_names_cell(sessions, tmp_path) -> None:
    result = run_import(sessions, write_csv(tmp_path / "list.csv", ERROR_ROWS))
    assert str(result.problems[0]) == "3行目 B列（氏名）: 氏名がありません"


def test_missing_required_column(sessions, tmp_path) -> None:
    path = tmp_path / "list.csv"
    path.write_text("登録番号,氏名\nMM-1,山田\n", encoding="utf-8")
    result = run_import(sessions, path)
    assert [str(problem) for problem in result.problems] == [
        "1行目: 「登録日」の列がありません。見出しの行に「登録日」を書いてください"]


def test_reimport_changes_nothing(sessions, tmp_path) -> None:
    path = write_csv(tmp_path / "list.csv", VALID_ROWS)
    run_import(sessions, path)
    again = run_import(sessions, path)
    assert again.created == []
    assert again.updated == []
    assert again.unchanged == [2, 3, 4]
    assert count(sessions, Mentor) == 3
    assert count(sessions, MentorHistory) == 3


def test_reimport_records_changes(sessions, tmp_path) -> None:
    run_import(sessions, write_csv(tmp_path / "list.csv", VALID_ROWS))
    changed = [VALID_ROWS[0].replace("taro@example.jp", "taro.yamada@example.jp"), *VALID_ROWS[1:]]
    result = run_import(sessions, write_csv(tmp_path / "changed.csv", changed))
    with transaction(sessions) as session:
        history = session.scalars(select(MentorHistory).order_by(MentorHistory.id.desc())).first()
    assert result.updated == [2]
    assert history.changes == {"email": {"old": "taro@example.jp", "new": "taro.yamada@example.jp"}}


def test_match_by_email(sessions, tmp_path) -> None:
    mentor = add_mentor(sessions, "MM-2024-0001", dt.date(2028, 3, 31), email="Taro@Example.jp", registration_number=None)
    path = tmp_path / "list.csv"
    path.write_text("氏名,メールアドレス,登録日\n山田 太郎,taro@example.jp,2024/4/1\n", encoding="utf-8")
    result = run_import(sessions, path)
    assert result.updated == [2]
    assert count(sessions, Mentor) == 1
    with transaction(sessions) as session:
        assert session.get(Mentor, mentor).name == "山田 太郎"


def test_number_conflict_imports_nothing(sessions, tmp_path) -> None:
    add_mentor(sessions, "MM-2020-0009", dt.date(2028, 3, 31), email="taro@example.jp")
    result = run_import(sessions, write_csv(tmp_path / "list.csv", [VALID_ROWS[1], VALID_ROWS[0]]))
    assert [(p.row, p.column) for p in result.problems] == [(3, 1)]
    assert count(sessions, Mentor) == 1


def test_dry_run_writes_nothing(sessions, tmp_path) -> None:
    result = run_import(sessions, write_csv(tmp_path / "list.csv", VALID_ROWS), dry_run=True)
    assert result.created == [2, 3, 4]
    assert count(sessions, Mentor) == 0
    assert count(sessions, AuditEntry) == 0


def test_import_audited(sessions, tmp_path) -> None:
    run_import(sessions, write_csv(tmp_path / "list.csv", VALID_ROWS))
    with transaction(sessions) as session:
        entry = session.scalars(select(AuditEntry)).one()
    assert entry.action == "registry_imported"
    assert entry.detail["created"] == 3


def test_progress_reported(sessions, tmp_path) -> None:
    calls = []
    run_import(sessions, write_csv(tmp_path / "list.csv", VALID_ROWS), progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 3), (2, 3), (3, 3)]


def test_unsupported_file_rejected(sessions, tmp_path) -> None:
    path = tmp_path / "list.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(TableError):
        run_import(sessions, path)


def test_export_round_trip(sessions, tmp_path) -> None:
    run_import(sessions, write_csv(tmp_path / "list.csv", VALID_ROWS))
    exported = tmp_path / "registry.xlsx"
    with transaction(sessions) as session:
        written = export_registry(session.scalars(select(Mentor).order_by(Mentor.id)), exported)
    again = run_import(sessions, exported)
    assert written == 3
    assert again.problems == []
    assert again.unchanged == [2, 3, 4]


def test_export_real_dates(sessions, tmp_path) -> None:
    run_import(sessions, write_csv(tmp_path / "list.csv", VALID_ROWS[:1]))
    exported = tmp_path / "registry.xlsx"
    with transaction(sessions) as session:
        export_registry(session.scalars(select(Mentor)), exported)
    sheet = openpyxl.load_workbook(exported).active
    assert [cell.value for cell in sheet[1]] == ["登録番号", "氏名", "ふりがな", "メールアドレス", "登録日", "満了日", "専門分野", "状態"]
    assert sheet["E2"].is_date
    assert sheet["F2"].value == dt.datetime(2028, 3, 31)
    assert sheet["F2"].number_format == "yyyy/mm/dd"
