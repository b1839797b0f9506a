"""Table test of the charset layer through every path a Japanese client uses.

Each Windows-extension character goes through bodies, encoded-word subjects, RFC 2231
names and quoted encoded-word names, and every input is built from the character itself,
so each row fails on its own.
"""

from __future__ import annotations

import base64
import urllib.parse

import pytest

from mailflow.intake.parse import parse_message
from tests.intake.japanese_encoders import encode_iso2022jp

# Windows-extension characters and those whose Unicode mapping differs between Python's
# shift_jis and cp932, plus a half-width katakana.
WINDOWS_CHARACTERS = ["①", "ⅰ", "Ⅱ", "㈱", "㍻", "№", "～", "∥", "－", "￢", "髙", "﨑", "ｱ"]


def q_encode(data: bytes) -> str:
    return "".join(f"={byte:02X}" for byte in data)


def b_encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def mail_with_body(body: bytes, charset: str, encoding: str = "8bit") -> bytes:
    if encoding == "base64":
        body = base64.encodebytes(body)
    return (
        b"From: sender@example.jp\r\nSubject: test\r\nDate: Mon, 01 Apr 2024 09:15:00 +0900\r\n"
        b"MIME-Version: 1.0\r\n"
        + f"Content-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n".encode()
        + body
    )


def mail_with_subject(encoded_subject: str) -> bytes:
    return (
        f"From: sender@example.jp\r\nSubject: {encoded_subject}\r\n"
        "Date: Mon, 01 Apr 2024 09:15:00 +0900\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n\r\nbody\r\n"
    ).encode("ascii")


def mail_with_file_params(params: str) -> bytes:
    return (
        "From: sender@example.jp\r\nSubject: file\r\nDate: Mon, 01 Apr 2024 09:15:00 +0900\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nsee file\r\n"
        f"--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment;\r\n {params}\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\nAAEC\r\n--b--\r\n"
    ).encode("ascii")


def windows_iso2022jp(text: str) -> bytes:
    return encode_iso2022jp(text).replace(b"\n", b"\r\n")


def cp932(text: str) -> bytes:
    return text.encode("cp932")


def utf8(text: str) -> bytes:
    return text.encode("utf-8")


def percent(data: bytes) -> str:
    return urllib.parse.quote(data)


# Each path: how the text is encoded, the label the sender puts on it, and the transfer
# encoding (bodies) or the header syntax (subjects and file names).
BODY_PATHS = {
    "iso-2022-jp": (windows_iso2022jp, "iso-2022-jp", "7bit"),
    "shift_jis label": (cp932, "Shift_JIS", "base64"),
    "cp932": (cp932, "cp932", "base64"),
    "utf-8": (utf8, "utf-8", "8bit"),
}
SUBJECT_PATHS = {
    "B iso-2022-jp": lambda text: f"=?ISO-2022-JP?B?{b_encode(encode_iso2022jp(text))}?=",
    "B shift_jis": lambda text: f"=?Shift_JIS?B?{b_encode(cp932(text))}?=",
    "Q cp932": lambda text: f"=?cp932?Q?{q_encode(cp932(text))}?=",
    "Q iso-2022-jp": lambda text: f"=?iso-2022-jp?q?{q_encode(encode_iso2022jp(text))}?=",
    "B utf-8": lambda text: f"=?utf-8?b?{b_encode(utf8(text))}?=",
}
FILENAME_PATHS = {
    "rfc2231 iso-2022-jp": lambda name: f"filename*=iso-2022-jp''{percent(encode_iso2022jp(name))}",
    "rfc2231 shift_jis": lambda name: f"filename*=shift_jis''{percent(cp932(name))}",
    "rfc2231 utf-8": lambda name: f"filename*=UTF-8''{percent(utf8(name))}",
    "quoted encoded-word": lambda name: f'filename="=?ISO-2022-JP?B?{b_encode(encode_iso2022jp(name))}?="',
}


@pytest.mark.parametrize("char", WINDOWS_CHARACTERS)
@pytest.mark.parametrize("path", BODY_PATHS)
def test_windows_character_in_body(char, path):
    encode, label, transfer_encoding = BODY_PATHS[path]
    text = f"申込{char}書\n"
    message = parse_message(mail_with_body(encode(text), label, transfer_encoding))
    assert message.body_text == text


@pytest.mark.parametrize("char", WINDOWS_CHARACTERS)
@pytest.mark.parametrize("path", SUBJECT_PATHS)
def test_windows_character_in_subject(char, path):
    text = f"申込{char}書"
    message = parse_message(mail_with_subject(SUBJECT_PATHS[path](text)))
    assert message.subject == text


@pytest.mark.parametrize("char", WINDOWS_CHARACTERS)
@pytest.mark.parametrize("path", FILENAME_PATHS)
def test_windows_character_in_filename(char, path):
    name = f"申込{char}書.xlsx"
    message = parse_message(mail_with_file_params(FILENAME_PATHS[path](name)))
    assert [item.filename for item in message.attachments] == [name]
