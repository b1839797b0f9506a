"""Ways to deliver a rendered message: SMTP submission (aiosmtplib) or .eml files."""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import aiosmtplib

from mailflow import clock
from mailflow.config import Config, SmtpConfig, read_secret
from mailflow.errors import MailflowError

logger = logging.getLogger(__name__)


@dataclass
class Delivery:
    """The outcome of one attempt: ``temporary`` failures are retried, permanent ones are not."""

    ok: bool
    code: int | None = None
    reply: str = ""
    temporary: bool = False


class Transport(Protocol):
    async def open(self) -> None: ...

    async def deliver(self, sender: str, recipients: list[str], raw: bytes, label: str) -> Delivery: ...

    async def close(self) -> None: ...


class FileTransport:
    """Write each message as an .eml file into a folder (the embedded default)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)

    async def deliver(self, sender: str, recipients: list[str], raw: bytes, label: str) -> Delivery:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        stamp = clock.now().astimezone(clock.TOKYO).strftime("%Y%m%d-%H%M%S")
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in label)[:120]
        target = self.directory / f"{stamp}-{safe}.eml"
        temporary = target.with_suffix(".tmp")
        with open(temporary, "wb", opener=lambda path, flags: os.open(path, flags, 0o600)) as handle:
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
        return Delivery(ok=True, code=250, reply=f"written to {target.name}")

    async def close(self) -> None:
        return None


class SmtpTransport:
    """Submit over SMTP with STARTTLS, implicit TLS (port 465) or plain on loopback.

    One connection serves a batch; a dropped connection is reopened for the next message.
    """

    def __init__(self, config: Config) -> None:
        self.config = config
        self.settings: SmtpConfig = config.outbound.smtp
        self.client: aiosmtplib.SMTP | None = None

    def _tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if self.settings.ca_file:
            context.load_verify_locations(cafile=str(self.config.resolve(self.settings.ca_file)))
        return context

    async def open(self) -> None:
        settings = self.settings
        client = aiosmtplib.SMTP(
            hostname=settings.host,
            port=settings.port,
            use_tls=settings.security == "ssl",
            start_tls=settings.security == "starttls",
            tls_context=self._tls_context() if settings.security != "plain" else None,
            timeout=settings.timeout_seconds,
        )
        await client.connect()
        await self._authenticate(client)
        self.client = client

    async def _authenticate(self, client: aiosmtplib.SMTP) -> None:
        settings = self.settings
        method = settings.auth
        if method == "none" or (method == "auto" and not (settings.username or settings.oauth2_command)):
            return
        if method == "xoauth2" or (method == "auto" and settings.oauth2_command):
            from mailflow.mailbox.oauth import fetch_access_token

            token = await asyncio.to_thread(fetch_access_token, settings.oauth2_command, settings.timeout_seconds)
            await client.auth_xoauth2(settings.username, token)
            return
        password = read_secret(self.config, settings.password, settings.password_file)
        if method in ("plain", "login"):
            await client.ehlo()  # explicit mechanisms need the post-STARTTLS EHLO answer
        if method == "plain":
            await client.auth_plain(settings.username, password)
        elif method == "login":
            await client.auth_login(settings.username, password)
        else:
            await client.login(settings.username, password)

    async def deliver(self, sender: str, recipients: list[str], raw: bytes, label: str) -> Delivery:
        if self.client is None or not self.client.is_connected:
            try:
                await self.open()
            except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError, MailflowError) as exc:
                # A refused login or TLS failure is a setting to fix, not the message's fault:
                # keep retrying until the deadline while the log says why.
                await self._drop()
                code = getattr(exc, "code", None)
                logger.error("smtp connection failed host=%s error=%s code=%s",
                             self.settings.host, type(exc).__name__, code)
                return Delivery(ok=False, code=code, reply=f"接続またはログインに失敗しました: {type(exc).__name__} {code or ''}".strip(),
                                temporary=True)
        try:
            assert self.client is not None
            refused, reply = await self.client.sendmail(sender, recipients, raw)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            first = exc.recipients[0]
            return Delivery(ok=False, code=first.code, reply=first.message, temporary=400 <= first.code < 500)
        except aiosmtplib.SMTPResponseException as exc:
            await self._drop()
            return Delivery(ok=False, code=exc.code, reply=exc.message, temporary=not 500 <= exc.code < 600)
        except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError) as exc:
            await self._drop()
            return Delivery(ok=False, code=None, reply=f"{type(exc).__name__}: {exc}", temporary=True)
        if refused:
            detail = "; ".join(f"{address}: {response.code} {response.message}" for address, response in refused.items())
            return Delivery(ok=True, code=250, reply=f"{reply}; refused {detail}")
        return Delivery(ok=True, code=250, reply=str(reply))

    async def _drop(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            try:
                client.close()
            except Exception:  # a half-closed socket may raise anything; the next send reconnects
                logger.debug("smtp close failed", exc_info=True)

    async def close(self) -> None:
        if self.client is not None and self.client.is_connected:
            try:
                await self.client.quit()
            except (aiosmtplib.SMTPException, OSError):
                logger.debug("smtp quit failed", exc_info=True)
        self.client = None


def make_transport(config: Config) -> Transport:
    if config.outbound.type == "smtp":
        return SmtpTransport(config)
    return FileTransport(config.resolve(config.outbound.directory))
