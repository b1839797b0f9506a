"""Tests for the owner-only, optionally encrypted document store and its blob format."""

from __future__ import annotations

import base64
import logging
import os
import stat

import pytest

from mailflow.storage import (
    MAGIC,
    BlobFormatError,
    DecryptionError,
    DocumentNotFoundError,
    DocumentStore,
    KeyFileError,
    KeyRequiredError,
    StorageError,
    WrongKeyError,
    decrypt_blob,
    encrypt_blob,
    generate_key,
    key_id,
    load_key,
    open_blob,
    seal_blob,
)

DOCUMENT = "住民票の写し".encode("utf-8") + bytes(range(256)) * 4


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def key_forms(key: bytes) -> list[str]:
    return [key.hex(), base64.b64encode(key).decode(), base64.urlsafe_b64encode(key).decode(), repr(key)]


@pytest.fixture
def key(tmp_path) -> bytes:
    return generate_key(tmp_path / "keys" / "mailflow.key")


def test_store_file_permissions(tmp_path, key):
    store = DocumentStore(tmp_path / "documents", key)

    storage_id = store.put(DOCUMENT)

    path = tmp_path / "documents" / storage_id[:2] / storage_id
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    assert mode(tmp_path / "documents") == 0o700


def test_store_permissions_under_open_umask(tmp_path):
    previous = os.umask(0o000)
    try:
        store = DocumentStore(tmp_path / "documents")
        storage_id = store.put(DOCUMENT)
    finally:
        os.umask(previous)

    assert mode(tmp_path / "documents" / storage_id[:2] / storage_id) == 0o600
    assert mode(tmp_path / "documents" / storage_id[:2]) == 0o700


def test_store_tightens_existing_root(tmp_path):
    root = tmp_path / "documents"
    root.mkdir(mode=0o755)
    os.chmod(root, 0o755)

    DocumentStore(root)

    assert mode(root) == 0o700


def test_store_leaves_no_temporary_files(tmp_path, key):
    store = DocumentStore(tmp_path / "documents", key)

    storage_id = store.put(DOCUMENT)

    assert os.listdir(tmp_path / "documents" / storage_id[:2]) == [storage_id]


def test_round_trip_encrypted(tmp_path, key):
    store = DocumentStore(tmp_path / "documents", key)

    storage_id = store.put(DOCUMENT)

    assert store.get(storage_id) == DOCUMENT
    assert DOCUMENT[:18] not in (tmp_path / "documents" / storage_id[:2] / storage_id).read_bytes()


def test_round_trip_plain(tmp_path):
    store = DocumentStore(tmp_path / "documents")

    storage_id = store.put(DOCUMENT)

    assert store.get(storage_id) == DOCUMENT
    assert (tmp_path / "documents" / storage_id[:2] / storage_id).read_bytes() == MAGIC + bytes([1, 0]) + DOCUMENT


def test_round_trip_empty(tmp_path, key):
    store = DocumentStore(tmp_path / "documents", key)

    assert store.get(store.put(b"")) == b""


def test_exists_and_delete(tmp_path, key):
    store = DocumentStore(tmp_path / "documents", key)
    storage_id = store.put(DOCUMENT)

    assert store.exists(storage_id)
    assert store.delete(storage_id) is True
    assert not store.exists(storage_id)
    assert store.delete(storage_id) is False


def test_get_missing_raises(tmp_path):
    store = DocumentStore(tmp_path / "documents")

    with pytest.raises(DocumentNotFoundError):
        store.get("0" * 32)


@pytest.mark.parametrize("storage_id", ["../../etc/passwd", "ABCDEF" * 6, "0" * 31, "", "0" * 32 + "/x"])
def test_invalid_storage_id_rejected(tmp_path, storage_id):
    store = DocumentStore(tmp_path / "documents")

    with pytest.raises(StorageError):
        store.get(storage_id)


def test_tampered_ciphertext_rejected(tmp_path, key):
    store = DocumentStore(tmp_path / "documents", key)
    storage_id = store.put(DOCUMENT)
    path = tmp_path / "documents" / storage_id[:2] / storage_id
    blob = bytearray(path.read_bytes())
    blob[-20] ^= 0x01
    path.write_bytes(bytes(blob))

    with pytest.raises(DecryptionError) as caught:
        store.get(storage_id)

    assert not isinstance(caught.value, WrongKeyError)


def test_tampered_header_rejected(key):
    blob = bytearray(encrypt_blob(DOCUMENT, key))
    blob[len(MAGIC) + 2 + 8] ^= 0x01  # first nonce byte

    with pytest.raises(DecryptionError):
        decrypt_blob(bytes(blob), key)


def test_truncated_blob_rejected(key):
    with pytest.raises(BlobFormatError):
        decrypt_blob(encrypt_blob(DOCUMENT, key)[:30], key)


def test_wrong_key_rejected(tmp_path, key):
    other = generate_key(tmp_path / "other.key")
    blob = encrypt_blob(DOCUMENT, key)

    with pytest.raises(WrongKeyError) as caught:
        decrypt_blob(blob, other)

    assert key_id(key) in str(caught.value)
    assert key_id(other) in str(caught.value)


def test_wrong_key_error_hides_keys(tmp_path, key, caplog):
    caplog.set_level(logging.DEBUG)
    other = generate_key(tmp_path / "other.key")
    store = DocumentStore(tmp_path / "documents", key)
    storage_id = store.put(DOCUMENT)

    with pytest.raises(WrongKeyError) as caught:
        DocumentStore(tmp_path / "documents", other).get(storage_id)

    visible = " ".join([str(caught.value), repr(caught.value), repr(caught.value.fields), caplog.text])
    for secret in (key, other):
        for form in key_forms(secret):
            assert form not in visible


def test_store_repr_hides_key(tmp_path, key):
    store = DocumentStore(tmp_path / "documents", key)

    for form in key_forms(key):
        assert form not in repr(store)
        assert form not in str(vars(store).keys())
    assert "encrypted=True" in repr(store)


def test_encrypted_blob_needs_key(key):
    with pytest.raises(KeyRequiredError):
        open_blob(seal_blob(DOCUMENT, key), None)


def test_plain_blob_readable_with_key(key):
    assert open_blob(seal_blob(DOCUMENT, None), key) == DOCUMENT


def test_decrypt_rejects_plain_blob(key):
    with pytest.raises(BlobFormatError):
        decrypt_blob(seal_blob(DOCUMENT, None), key)


def test_foreign_bytes_rejected(key):
    with pytest.raises(BlobFormatError):
        open_blob(b"%PDF-1.4 not a blob", key)


def test_nonce_fresh_each_time(key):
    assert encrypt_blob(DOCUMENT, key) != encrypt_blob(DOCUMENT, key)


def test_key_file_permissions(tmp_path):
    path = tmp_path / "keys" / "mailflow.key"

    generate_key(path)

    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700


def test_key_file_round_trip(tmp_path):
    path = tmp_path / "mailflow.key"

    key = generate_key(path)

    assert load_key(path) == key
    assert len(key) == 32


def test_key_file_never_overwritten(tmp_path):
    path = tmp_path / "mailflow.key"
    key = generate_key(path)

    with pytest.raises(KeyFileError):
        generate_key(path)

    assert load_key(path) == key


def test_key_file_too_open_rejected(tmp_path):
    path = tmp_path / "mailflow.key"
    key = generate_key(path)
    os.chmod(path, 0o644)

    with pytest.raises(KeyFileError) as caught:
        load_key(path)

    assert "chmod 600" in str(caught.value)
    for form in key_forms(key):
        assert form not in str(caught.value)


def test_key_file_missing_rejected(tmp_path):
    with pytest.raises(KeyFileError) as caught:
        load_key(tmp_path / "absent.key")

    assert str(tmp_path / "absent.key") in str(caught.value)


@pytest.mark.parametrize("content", [b"not base64 !!!\n", base64.urlsafe_b64encode(b"short") + b"\n", b""])
def test_key_file_bad_content_rejected(tmp_path, content):
    path = tmp_path / "mailflow.key"
    path.write_bytes(content)
    os.chmod(path, 0o600)

    with pytest.raises(KeyFileError) as caught:
        load_key(path)

    assert str(path) in str(caught.value)


def test_bad_key_length_rejected(tmp_path):
    with pytest.raises(KeyFileError):
        DocumentStore(tmp_path / "documents", b"short key")
