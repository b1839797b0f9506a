"""Owner-only document storage on disk, encrypted with AES-256-GCM when a key is configured.

Identity documents and forms are kept here, one file per document, 0600 in 0700
directories. Every file starts with a header that says whether the rest is plain or
AES-256-GCM ciphertext, and the same blob format (:func:`seal_blob`, :func:`open_blob`,
:func:`encrypt_blob`, :func:`decrypt_blob`) is used for raw mails kept in the database.

Blob layout (all integers unsigned)::

    b"MFBLOB" | version (1 byte, 1) | algorithm (1 byte: 0 plain, 1 AES-256-GCM)
    plain:   payload
    AES-GCM: key id (8 bytes) | nonce (12 bytes) | ciphertext with 16-byte tag

The key id is the first 8 bytes of HMAC-SHA256(key, "mailflow key id"). It separates a
wrong key from a damaged blob without revealing the key. The header is authenticated as
associated data, so changing any byte of a blob makes decryption fail.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import logging
import os
import re
import secrets
import stat
import threading
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mailflow.errors import MailflowError

logger = logging.getLogger(__name__)

KEY_BYTES = 32
MAGIC = b"MFBLOB"
VERSION = 1
ALGORITHM_PLAIN = 0
ALGORITHM_AES256_GCM = 1
KEY_ID_BYTES = 8
NONCE_BYTES = 12
TAG_BYTES = 16
_HEADER_BYTES = len(MAGIC) + 2
FILE_MODE = 0o600
DIRECTORY_MODE = 0o700
_STORAGE_ID = re.compile(r"[0-9a-f]{32}")
# os.umask is process-wide; the lock keeps our own changes from interleaving.
_UMASK_LOCK = threading.Lock()


class StorageError(MailflowError):
    """A document or key could not be stored or read."""


class KeyFileError(StorageError):
    """The key file is missing, unreadable, too open or not a key."""


class BlobFormatError(StorageError):
    """The bytes are not a blob in the format above (truncated, or another format)."""


class KeyRequiredError(StorageError):
    """The blob is encrypted and no key was given."""


class DecryptionError(StorageError):
    """Authentication failed: the blob was modified or damaged after it was written."""


class WrongKeyError(DecryptionError):
    """The blob was encrypted with a different key than the one given."""


class DocumentNotFoundError(StorageError):
    """No document has the given storage id."""


def key_id(key: bytes) -> str:
    """Return the hex key id stored in encrypted blobs (not secret; it does not reveal the key)."""
    return hmac.new(key, b"mailflow key id", hashlib.sha256).digest()[:KEY_ID_BYTES].hex()


def encrypt_blob(data: bytes, key: bytes) -> bytes:
    """Return ``data`` encrypted with AES-256-GCM under ``key`` (32 bytes), with a fresh nonce."""
    _check_key(key)
    header = MAGIC + bytes([VERSION, ALGORITHM_AES256_GCM]) + bytes.fromhex(key_id(key))
    nonce = secrets.token_bytes(NONCE_BYTES)
    return header + nonce + AESGCM(key).encrypt(nonce, data, header)


def decrypt_blob(blob: bytes, key: bytes) -> bytes:
    """Return the plaintext of a blob made by :func:`encrypt_blob`.

    Raises WrongKeyError when the blob names another key, DecryptionError when it was
    modified, and BlobFormatError when it is not an encrypted blob at all.
    """
    _check_key(key)
    algorithm = _read_header(blob)
    if algorithm != ALGORITHM_AES256_GCM:
        raise BlobFormatError("暗号化されていないデータです（暗号化されたデータを読むための関数に渡されました）", algorithm=algorithm)
    start = _HEADER_BYTES
    stored_key_id = blob[start:start + KEY_ID_BYTES].hex()
    nonce = blob[start + KEY_ID_BYTES:start + KEY_ID_BYTES + NONCE_BYTES]
    ciphertext = blob[start + KEY_ID_BYTES + NONCE_BYTES:]
    if len(ciphertext) < TAG_BYTES:
        raise BlobFormatError("暗号化データが途中で切れています", size=len(blob))
    if not hmac.compare_digest(stored_key_id, key_id(key)):
        raise WrongKeyError(
            f"別の鍵で暗号化されたデータです（データの鍵 ID {stored_key_id}、設定の鍵 ID {key_id(key)}）。"
            "privacy.encryption_key_file が暗号化したときの鍵ファイルを指しているか確認してください",
            stored_key_id=stored_key_id, configured_key_id=key_id(key),
        )
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, blob[:start + KEY_ID_BYTES])
    except InvalidTag:
        raise DecryptionError("暗号化データの認証に失敗しました。保存後に変更されたか壊れています", key_id=stored_key_id) from None


def seal_blob(data: bytes, key: bytes | None) -> bytes:
    """Return ``data`` as a blob: encrypted when ``key`` is given, otherwise plain with the header."""
    if key is not None:
        return encrypt_blob(data, key)
    return MAGIC + bytes([VERSION, ALGORITHM_PLAIN]) + data


def open_blob(blob: bytes, key: bytes | None) -> bytes:
    """Return the content of a blob made by :func:`seal_blob`.

    Plain blobs are returned as they are, also when a key is given, so that documents
    stored before encryption was configured stay readable. Raises KeyRequiredError for an
    encrypted blob without a key, and the errors of :func:`decrypt_blob`.
    """
    algorithm = _read_header(blob)
    if algorithm == ALGORITHM_PLAIN:
        return blob[_HEADER_BYTES:]
    if key is None:
        raise KeyRequiredError(
            "暗号化されたデータですが、鍵が設定されていません。privacy.encryption_key_file を設定してください"
        )
    return decrypt_blob(blob, key)


def generate_key(path: str | Path) -> bytes:
    """Create a new random key file at ``path`` (mode 0600) and return the key.

    The file contains the 32-byte key in URL-safe base64 on one line. An existing file is
    never overwritten, because losing a key loses every document encrypted with it:
    raises KeyFileError instead.
    """
    path = Path(path)
    key = AESGCM.generate_key(bit_length=KEY_BYTES * 8)
    with _owner_only_umask():
        # An existing folder keeps its mode: it may be shared configuration such as /etc.
        path.parent.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
    try:
        _write_private_file(path, base64.urlsafe_b64encode(key) + b"\n", exclusive=True)
    except FileExistsError:
        raise KeyFileError(
            f"鍵ファイル {path} は既にあります。上書きすると暗号化済みの文書が読めなくなるため、作成しませんでした",
            path=str(path),
        ) from None
    logger.info("encryption key generated: key_id=%s", key_id(key))
    return key


def load_key(path: str | Path) -> bytes:
    """Read the key written by :func:`generate_key`.

    Raises KeyFileError when the file is missing, readable or writable by other users,
    or does not hold a 32-byte URL-safe base64 key. The error never contains the key.
    """
    path = Path(path)
    try:
        info = path.stat()
        content = path.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"鍵ファイル {path} を読めません（{exc.strerror}）", path=str(path)) from None
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise KeyFileError(
            f"鍵ファイル {path} は他のユーザーも読み書きできます（モード {mode:04o}）。"
            f"chmod 600 {path} を実行してください",
            path=str(path), mode=f"{mode:04o}",
        )
    try:
        key = base64.b64decode(content.strip(), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise KeyFileError(f"鍵ファイル {path} の内容が鍵の形式（base64）ではありません", path=str(path)) from None
    if len(key) != KEY_BYTES:
        raise KeyFileError(
            f"鍵ファイル {path} の鍵の長さが {len(key)} バイトです（{KEY_BYTES} バイトが必要です）。"
            "mailflow で新しい鍵を作成してください",
            path=str(path), length=len(key),
        )
    return key


class DocumentStore:
    """Files under ``root``, one per document, named by a random storage id.

    With a key, every document is encrypted (AES-256-GCM); without one it is stored
    plain with the blob header. Files are 0600 and directories 0700; each write goes to
    a temporary name, is fsynced and renamed into place, and the modes are checked after.
    """

    def __init__(self, root: str | Path, key: bytes | None = None) -> None:
        if key is not None:
            _check_key(key)
        self._root = Path(root)
        self._key = key
        _ensure_directory(self._root, create_parents=True)

    def __repr__(self) -> str:
        return f"DocumentStore(root={str(self._root)!r}, encrypted={self._key is not None})"

    @property
    def root(self) -> Path:
        return self._root

    @property
    def encrypted(self) -> bool:
        return self._key is not None

    def put(self, data: bytes) -> str:
        """Store ``data`` and return its storage id (32 lowercase hex characters)."""
        storage_id = secrets.token_hex(16)
        path = self._path(storage_id)
        _ensure_directory(path.parent, create_parents=False)
        _write_private_file(path, seal_blob(data, self._key), exclusive=False)
        logger.debug("document stored: storage_id=%s bytes=%d", storage_id, len(data))
        return storage_id

    def get(self, storage_id: str) -> bytes:
        """Return the document's content. Raises DocumentNotFoundError or the blob errors."""
        path = self._path(storage_id)
        try:
            blob = path.read_bytes()
        except FileNotFoundError:
            raise DocumentNotFoundError(f"文書 {storage_id} は保存されていません", storage_id=storage_id) from None
        return open_blob(blob, self._key)

    def exists(self, storage_id: str) -> bool:
        """Return True when a document with this storage id is stored."""
        return self._path(storage_id).is_file()

    def delete(self, storage_id: str) -> bool:
        """Remove the document; return False when it was not stored.

        NOTE: on SSDs and copy-on-write file systems the old blocks may survive unlink;
        only encryption protects a deleted document's content.
        """
        path = self._path(storage_id)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        _fsync_directory(path.parent)
        logger.debug("document deleted: storage_id=%s", storage_id)
        return True

    def _path(self, storage_id: str) -> Path:
        if not isinstance(storage_id, str) or not _STORAGE_ID.fullmatch(storage_id):
            raise StorageError(f"保存 ID の形式が正しくありません: {storage_id!r}", storage_id=repr(storage_id))
        return self._root / storage_id[:2] / storage_id


def _check_key(key: bytes) -> None:
    if not isinstance(key, bytes) or len(key) != KEY_BYTES:
        length = len(key) if isinstance(key, (bytes, bytearray)) else None
        raise KeyFileError(f"暗号鍵は {KEY_BYTES} バイトでなければなりません（{length} バイトでした）", length=length)


def _read_header(blob: bytes) -> int:
    if len(blob) < _HEADER_BYTES or not blob.startswith(MAGIC):
        raise BlobFormatError("保存データの形式ではありません（先頭の識別子がありません）", size=len(blob))
    version, algorithm = blob[len(MAGIC)], blob[len(MAGIC) + 1]
    if version != VERSION or algorithm not in (ALGORITHM_PLAIN, ALGORITHM_AES256_GCM):
        raise BlobFormatError(
            f"保存データの版 {version} または方式 {algorithm} に対応していません", version=version, algorithm=algorithm
        )
    return algorithm


@contextlib.contextmanager
def _owner_only_umask():
    with _UMASK_LOCK:
        previous = os.umask(0o077)
        try:
            yield
        finally:
            os.umask(previous)


def _ensure_directory(path: Path, create_parents: bool) -> None:
    """Create ``path`` as a 0700 directory, or tighten an existing one to 0700."""
    with _owner_only_umask():
        path.mkdir(mode=DIRECTORY_MODE, parents=create_parents, exist_ok=True)
    if stat.S_IMODE(path.stat().st_mode) != DIRECTORY_MODE:
        os.chmod(path, DIRECTORY_MODE)
    _check_mode(path, DIRECTORY_MODE)


def _write_private_file(path: Path, data: bytes, exclusive: bool) -> None:
    """Write ``data`` to ``path`` with mode 0600 through a fsynced temporary file and a rename.

    With ``exclusive``, raises FileExistsError when ``path`` exists, also when another
    process creates it meanwhile.
    """
    if exclusive and path.exists():
        raise FileExistsError(path)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    with _owner_only_umask():
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        _check_mode(temporary, FILE_MODE)
        if exclusive:
            # link() fails if the name was taken meanwhile, where rename would replace it.
            os.link(temporary, path)
            os.unlink(temporary)
        else:
            os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _fsync_directory(path.parent)
    _check_mode(path, FILE_MODE)


def _check_mode(path: Path, expected: int) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode != expected:
        raise StorageError(
            f"{path} の権限が {mode:04o} です（{expected:04o} が必要です）。所有者とマウントの設定を確認してください",
            path=str(path), mode=f"{mode:04o}",
        )


def _fsync_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
