"""``mailflow key generate`` and the start-up settings the App applies."""

from __future__ import annotations

import base64
import stat

from PIL import Image

from mailflow.app import App
from mailflow.cli import main
from mailflow.intake.limits import DEFAULT_LIMITS
from mailflow.storage import load_key
from tests.privacy.populated import app_config


def test_generate_writes_private_key(tmp_path, capsys):
    path = tmp_path / "keys" / "mailflow.key"
    assert main(["key", "generate", str(path)]) == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(load_key(path)) == 32


def test_generate_prints_no_key(tmp_path, capsys):
    path = tmp_path / "mailflow.key"
    main(["key", "generate", str(path)])
    output = capsys.readouterr()
    encoded = base64.urlsafe_b64encode(load_key(path)).decode()
    assert encoded not in output.out + output.err
    assert "encryption_key_file" in output.out


def test_generate_refuses_overwrite(tmp_path, capsys):
    path = tmp_path / "mailflow.key"
    path.write_bytes(b"existing\n")
    assert main(["key", "generate", str(path)]) == 1
    assert path.read_bytes() == b"existing\n"
    assert "既にあります" in capsys.readouterr().err


def test_generate_needs_no_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MAILFLOW_CONFIG", str(tmp_path / "missing.toml"))
    assert main(["key", "generate", str(tmp_path / "mailflow.key")]) == 0


def test_app_sets_pillow_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1)
    app = App(app_config(tmp_path))
    app.close()
    assert Image.MAX_IMAGE_PIXELS == DEFAULT_LIMITS.max_image_pixels
