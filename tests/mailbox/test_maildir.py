"""MaildirSource on a real Maildir tree, including a process killed in the middle of moves."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from mailflow.mailbox.base import Folder, MailboxError
from mailflow.mailbox.maildir import HANDLED_FLAG, MaildirSource
from tests.mailbox.conftest import sample_mail

FIRST = "08-change-notice"
SECOND = "09-withdrawal"
THIRD = "10-inquiry"


def deliver(root: Path, raw: bytes, subdir: str = "new", flags: str = "") -> str:
    """Write ``raw`` into the Maildir at ``root`` byte for byte, as a delivery agent would; return its key.

    The stdlib's ``Maildir.add`` would turn CRLF into LF, so the file is written here:
    into ``tmp/`` first, then renamed into ``subdir`` with ``:2,<flags>`` in ``cur/``.
    """
    global _deliveries
    _deliveries += 1
    key = f"{time.time_ns()}.M{_deliveries}P{os.getpid()}.test"
    (root / "tmp" / key).write_bytes(raw)
    name = f"{key}:2,{flags}" if subdir == "cur" else key
    os.rename(root / "tmp" / key, root / subdir / name)
    return key


_deliveries = 0


def files_named(root: Path, key: str) -> list[Path]:
    return [path for sub in ("new", "cur") for path in (root / sub).iterdir() if path.name.split(":")[0] == key]


@pytest.fixture
def maildir(tmp_path: Path) -> Path:
    return tmp_path / "maildir"


@pytest.fixture
def source(maildir: Path) -> MaildirSource:
    source = MaildirSource(maildir, poll_interval_seconds=0.05)
    source.connect()
    return source


def test_connect_creates_subfolders(source, maildir):
    expected = {f".mailflow.{folder.value}/{sub}" for folder in Folder for sub in ("cur", "new", "tmp")}

    present = {f"{path.parent.name}/{path.name}" for path in maildir.glob(".mailflow.*/*") if path.is_dir()}

    assert present == expected


def test_connect_creates_private_maildir(source, maildir):
    assert maildir.stat().st_mode & 0o777 == 0o700


def test_connect_rejects_plain_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("not a Maildir", encoding="utf-8")

    with pytest.raises(MailboxError, match="Maildir ではありません"):
        MaildirSource(tmp_path).connect()


def test_connect_twice_keeps_mail(source, maildir):
    key = deliver(maildir, sample_mail(FIRST))
    (mail,) = source.fetch_new()
    source.move(mail, Folder.PROCESSED)

    source.connect()

    assert [path.name for path in files_named(maildir / ".mailflow.processed", key)] == [key]


def test_fetch_connects_when_needed(maildir):
    lazy = MaildirSource(maildir)

    assert list(lazy.fetch_new()) == []
    assert (maildir / ".mailflow.processed" / "new").is_dir()


def test_fetch_reads_new_and_cur(source, maildir):
    deliver(maildir, sample_mail(FIRST))
    deliver(maildir, sample_mail(SECOND), subdir="cur", flags="S")

    raws = sorted(mail.raw for mail in source.fetch_new())

    assert raws == sorted([sample_mail(FIRST), sample_mail(SECOND)])


def test_fetch_skips_handled_flag(source, maildir):
    deliver(maildir, sample_mail(FIRST), subdir="cur", flags="S" + HANDLED_FLAG)
    deliver(maildir, sample_mail(SECOND), subdir="cur", flags="S")

    raws = [mail.raw for mail in source.fetch_new()]

    assert raws == [sample_mail(SECOND)]


def test_fetch_oldest_first(source, maildir):
    keys = [deliver(maildir, sample_mail(name)) for name in (FIRST, SECOND, THIRD)]
    for age, key in zip((10, 30, 20), keys):
        then = time.time() - age
        os.utime(maildir / "new" / key, (then, then))

    order = [mail.key for mail in source.fetch_new()]

    assert order == [keys[1], keys[2], keys[0]]


def test_fetch_identifies_by_key(source, maildir):
    key = deliver(maildir, sample_mail(FIRST))

    (mail,) = source.fetch_new()

    assert (mail.key, mail.uidvalidity, mail.uid) == (key, None, None)


def test_fetch_limit(source, maildir):
    for name in (FIRST, SECOND, THIRD):
        deliver(maildir, sample_mail(name))

    assert len(list(source.fetch_new(limit=2))) == 2


def test_move_into_folder(source, maildir):
    key = deliver(maildir, sample_mail(FIRST))
    (mail,) = source.fetch_new()

    source.move(mail, Folder.QUARANTINE)

    assert (maildir / ".mailflow.quarantine" / "new" / key).read_bytes() == sample_mail(FIRST)
    assert files_named(maildir, key) == []


def test_move_keeps_flags(source, maildir):
    key = deliver(maildir, sample_mail(FIRST), subdir="cur", flags="FS")
    (mail,) = source.fetch_new()

    source.move(mail, Folder.AUTO)

    assert [path.name for path in files_named(maildir / ".mailflow.auto", key)] == [f"{key}:2,FS"]


def test_move_after_client_marked_seen(source, maildir):
    key = deliver(maildir, sample_mail(FIRST))
    (mail,) = source.fetch_new()
    os.rename(maildir / "new" / key, maildir / "cur" / f"{key}:2,S")

    source.move(mail, Folder.PROCESSED)

    assert [path.name for path in files_named(maildir / ".mailflow.processed", key)] == [f"{key}:2,S"]


def test_move_twice_is_harmless(source, maildir):
    key = deliver(maildir, sample_mail(FIRST))
    (mail,) = source.fetch_new()
    source.move(mail, Folder.PROCESSED)

    source.move(mail, Folder.PROCESSED)

    assert len(files_named(maildir / ".mailflow.processed", key)) == 1


def test_move_of_missing_mail_rejected(source, maildir):
    key = deliver(maildir, sample_mail(FIRST))
    (mail,) = source.fetch_new()
    (maildir / "new" / key).unlink()

    with pytest.raises(MailboxError, match="受信箱にも"):
        source.move(mail, Folder.PROCESSED)


def test_replace_writes_new_copy(source, maildir):
    deliver(maildir, sample_mail(FIRST))
    (mail,) = source.fetch_new()

    source.replace(mail, sample_mail(SECOND), Folder.QUARANTINE)

    copies = list((maildir / ".mailflow.quarantine" / "new").iterdir())
    assert [path.read_bytes() for path in copies] == [sample_mail(SECOND)]


def test_replace_deletes_original(source, maildir):
    key = deliver(maildir, sample_mail(FIRST))
    (mail,) = source.fetch_new()

    source.replace(mail, sample_mail(SECOND), Folder.QUARANTINE)

    assert files_named(maildir, key) == []


def test_replace_copy_is_private(source, maildir):
    deliver(maildir, sample_mail(FIRST))
    (mail,) = source.fetch_new()

    source.replace(mail, sample_mail(SECOND), Folder.QUARANTINE)

    (copy,) = (maildir / ".mailflow.quarantine" / "new").iterdir()
    assert copy.stat().st_mode & 0o777 == 0o600


def test_replace_rerun_after_crash_keeps_one_copy(source, maildir):
    key = deliver(maildir, sample_mail(FIRST))
    (mail,) = source.fetch_new()
    source.replace(mail, sample_mail(SECOND), Folder.QUARANTINE)
    # As if the process had died after writing the copy and before deleting the original:
    (maildir / "new" / key).write_bytes(sample_mail(FIRST))
    (again,) = source.fetch_new()

    source.replace(again, sample_mail(SECOND), Folder.QUARANTINE)

    assert len(list((maildir / ".mailflow.quarantine" / "new").iterdir())) == 1
    assert files_named(maildir, key) == []
    assert list((maildir / ".mailflow.quarantine" / "tmp").iterdir()) == []


def test_replace_of_missing_mail_rejected(source, maildir):
    key = deliver(maildir, sample_mail(FIRST))
    (mail,) = source.fetch_new()
    (maildir / "new" / key).unlink()

    with pytest.raises(MailboxError, match="受信箱にありません"):
        source.replace(mail, sample_mail(SECOND), Folder.QUARANTINE)


def test_wait_true_before_first_fetch(source):
    assert source.wait(5.0) is True


def test_wait_times_out_without_mail(source):
    list(source.fetch_new())
    started = time.monotonic()

    assert source.wait(0.3) is False
    assert time.monotonic() - started >= 0.3


def test_wait_sees_delivery(source, maildir):
    list(source.fetch_new())
    timer = threading.Timer(0.2, deliver, args=(maildir, sample_mail(FIRST)))
    timer.start()
    started = time.monotonic()

    assert source.wait(10.0) is True
    assert time.monotonic() - started < 2.0
    timer.join()


def test_wait_sees_delivery_right_after_fetch(source, maildir):
    # Same coarse mtime tick as the scan: only the file names show the new mail.
    list(source.fetch_new())
    deliver(maildir, sample_mail(FIRST))

    assert source.wait(1.0) is True


def test_wait_interrupted(source):
    list(source.fetch_new())
    threading.Timer(0.2, source.interrupt).start()
    started = time.monotonic()

    assert source.wait(30.0) is False
    assert time.monotonic() - started < 2.0


MOVER = """
import sys
from mailflow.mailbox.base import Folder
from mailflow.mailbox.maildir import MaildirSource

source = MaildirSource(sys.argv[1])
source.connect()
mails = list(source.fetch_new())
print("ready", flush=True)
for mail in mails:
    source.move(mail, Folder.PROCESSED)
print("done", flush=True)
"""

KILL_ROUNDS = 4
KILL_MESSAGES = 5000  # enough for tens of milliseconds of moves, so the kill lands mid-way


def test_kill_mid_move_loses_nothing(tmp_path):
    rng = random.Random(20270310)
    partial_rounds = 0
    for round_number in range(KILL_ROUNDS):
        root = tmp_path / f"round{round_number}"
        MaildirSource(root).connect()
        keys = [deliver(root, f"Subject: {n}\r\n\r\nbody {n}\r\n".encode()) for n in range(KILL_MESSAGES)]
        child = subprocess.Popen([sys.executable, "-c", MOVER, str(root)], stdout=subprocess.PIPE, text=True)
        assert child.stdout.readline().strip() == "ready"

        time.sleep(rng.uniform(0.002, 0.03))
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)

        places = Counter(
            path.name.split(":")[0]
            for folder in (root, root / ".mailflow.processed")
            for sub in ("new", "cur")
            for path in (folder / sub).iterdir()
        )
        assert sorted(places) == sorted(keys)
        assert set(places.values()) == {1}
        moved = sum(1 for _ in (root / ".mailflow.processed" / "new").iterdir())
        partial_rounds += 0 < moved < KILL_MESSAGES
    assert partial_rounds > 0, "no round was killed in the middle of its moves"
