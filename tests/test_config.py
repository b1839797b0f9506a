"""Config loading: defaults, the example file, and error reports that name file, key and value."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest

from mailflow.cli import main
from mailflow.config import Config, ConfigError, load_config

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"


def _keys(obj, prefix=""):
    for field in dataclasses.fields(obj):
        if field.name == "source":
            continue
        value = getattr(obj, field.name)
        if dataclasses.is_dataclass(value):
            yield from _keys(value, f"{prefix}{field.name}.")
        else:
            yield f"{prefix}{field.name}", value


def _example_keys(data, prefix=""):
    for key, value in data.items():
        if isinstance(value, dict):
            yield from _example_keys(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def test_example_loads(tmp_path):
    config = load_config(EXAMPLE)
    assert config.mailbox.type == "maildir"


def test_example_documents_every_option():
    documented = dict(_example_keys(tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))))
    defaults = dict(_keys(Config()))
    assert sorted(documented) == sorted(defaults)


def test_example_values_are_defaults():
    documented = dict(_example_keys(tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))))
    defaults = dict(_keys(Config()))
    for key, value in defaults.items():
        assert documented[key] == value, key


def test_every_example_option_has_comment():
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    for index, line in enumerate(lines):
        if line and not line.startswith(("#", "[")) and "=" in line:
            assert lines[index - 1].startswith("#"), line


def test_all_errors_reported_at_once(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(
        '[mailbox]\ntype = "pop3"\npoll_interval_seconds = "often"\n'
        '[outbound]\nrate_per_minute = 0\nfrom_address = "nobody"\n'
        '[scheduler]\ndigest_time = "9am"\n[nonsense]\nx = 1\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    problems = caught.value.problems
    text = "\n".join(problems)
    assert len(problems) == 6
    assert all(problem.startswith(str(path)) for problem in problems)
    assert "mailbox.type = 'pop3'" in text
    assert "mailbox.poll_interval_seconds" in text and "'often'" in text
    assert "outbound.rate_per_minute" in text
    assert "outbound.from_address = 'nobody'" in text
    assert "scheduler.digest_time = '9am'" in text
    assert "nonsense" in text


def test_plain_imap_rejected_off_loopback(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[mailbox]\ntype = "imap"\n[mailbox.imap]\nhost = "mail.example.jp"\n'
                    'security = "plain"\nusername = "u"\npassword = "p"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "mail.example.jp" in caught.value.message


def test_invalid_toml_names_file(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("[mailbox\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(path) in caught.value.message


def test_relative_paths_follow_file(tmp_path):
    path = tmp_path / "sub" / "config.toml"
    path.parent.mkdir()
    path.write_text('[paths]\ndata_dir = "state"\n[database]\nurl = "sqlite:///state/db.sqlite"\n', encoding="utf-8")
    config = load_config(path)
    assert config.data_dir == path.parent.resolve() / "state"
    assert config.database_url == f"sqlite:///{path.parent.resolve() / 'state' / 'db.sqlite'}"


def trusted_header_problems(tmp_path, setting):
    """Load a config with ``staff.trusted_header = setting`` and return its problems."""
    path = tmp_path / "config.toml"
    path.write_text(f'[staff]\ntrusted_header = "{setting}"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return caught.value.problems


@pytest.mark.parametrize("setting", ["X-Foo", "X-Foo:", "X-Foo:   "])
def test_trusted_header_without_value(tmp_path, setting):
    problems = trusted_header_problems(tmp_path, setting)
    assert len(problems) == 1
    path = tmp_path / "config.toml"
    assert problems[0].startswith(f"{path}: staff.trusted_header = {setting!r} に値がありません")


@pytest.mark.parametrize("setting", [": Internal", "X Foo: Internal", "ＡuthAs: Internal"])
def test_trusted_header_bad_name(tmp_path, setting):
    problems = trusted_header_problems(tmp_path, setting)
    assert len(problems) == 1
    assert "のヘッダー名" in problems[0]


def test_trusted_header_name_and_value(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[staff]\ntrusted_header = "X-MS-Exchange-Organization-AuthAs: Internal"\n', encoding="utf-8")
    assert load_config(path).staff.trusted_header == "X-MS-Exchange-Organization-AuthAs: Internal"


def test_doctor_rejects_trusted_header(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "config.toml"
    path.write_text('[staff]\ntrusted_header = "X-Foo"\n', encoding="utf-8")
    code = main(["--config", str(path), "doctor"])
    error = capsys.readouterr().err
    assert code == 2
    assert f"{path}: staff.trusted_header = 'X-Foo'" in error
