"""Load and validate ``config.toml``; every error names the file, the key and the bad value.

With no file at all, the embedded defaults apply: a Maildir inbox, ``.eml`` files as the
outbox and a SQLite database, all under ``./data``.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mailflow.errors import MailflowError
from mailflow.paths import DEFAULT_RULES_DIR, DEFAULT_TEMPLATES_DIR

ADDRESS_RE = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
# A header field name: printable ASCII except the colon (RFC 5322, section 3.6.8).
HEADER_NAME_RE = re.compile(r"[!-9;-~]+")


class ConfigError(MailflowError):
    """The configuration is invalid. ``problems`` lists every error found, one line each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("設定に誤りがあります:\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass
class ImapConfig:
    host: str = "127.0.0.1"
    port: int = 993
    security: str = "ssl"  # ssl | starttls | plain (plain only to a loopback host)
    username: str = ""
    password: str = field(default="", repr=False)
    password_file: str = ""
    oauth2_command: str = ""  # prints an OAuth2 access token; then XOAUTH2 is used
    inbox: str = "INBOX"
    root_folder: str = "mailflow"
    idle: bool = True
    idle_refresh_seconds: int = 600
    poll_interval_seconds: int = 60
    reconnect_max_seconds: int = 300
    done_keyword: str = "$MailflowDone"
    ca_file: str = ""
    timeout_seconds: int = 60


@dataclass
class MailboxConfig:
    type: str = "maildir"  # maildir | imap
    maildir: str = "data/maildir"
    poll_interval_seconds: int = 30
    max_message_bytes: int = 26_214_400  # 25 MiB, the size most providers accept
    imap: ImapConfig = field(default_factory=ImapConfig)


@dataclass
class SmtpConfig:
    host: str = "127.0.0.1"
    port: int = 587
    security: str = "starttls"  # starttls | ssl | plain (plain only to a loopback host)
    username: str = ""
    password: str = field(default="", repr=False)
    password_file: str = ""
    oauth2_command: str = ""
    auth: str = "auto"  # auto | plain | login | xoauth2 | none
    timeout_seconds: int = 60
    ca_file: str = ""


@dataclass
class OutboundConfig:
    type: str = "files"  # files | smtp
    directory: str = "data/outbox"
    from_address: str = "intake@bureau.example.jp"
    from_name: str = "関東経済産業局 マネジメントメンター受付"
    rate_per_minute: int = 30  # Exchange Online accepts 30 messages per minute
    retry_deadline_hours: int = 48
    retry_initial_seconds: int = 60
    max_attempts: int = 50
    smtp: SmtpConfig = field(default_factory=SmtpConfig)


@dataclass
class DatabaseConfig:
    url: str = "sqlite:///data/mailflow.db"
    busy_timeout_ms: int = 30_000


@dataclass
class BureauConfig:
    name: str = "関東経済産業局"
    section: str = "産業人材政策課"
    intake_address: str = "intake@bureau.example.jp"
    postal_address: str = "〒330-9715 埼玉県さいたま市中央区新都心1-1 さいたま新都心合同庁舎1号館 関東経済産業局 産業人材政策課"
    phone: str = ""
    staff_addresses: list[str] = field(default_factory=list)
    notify_addresses: list[str] = field(default_factory=list)  # default: staff_addresses


@dataclass
class IntakeConfig:
    settle_seconds: int = 120
    review_days_registration: int = 14
    review_days_renewal: int = 30
    max_attachment_bytes: int = 10_485_760  # 10 MiB, stated in receipts
    max_receipts_per_day: int = 5  # per address; ends loops with unrecognised auto-responders


@dataclass
class StaffConfig:
    subaddress: bool = True  # intake+TOKEN@…; off for on-premises Exchange
    authserv_id: str = ""
    trusted_header: str = ""  # e.g. "X-MS-Exchange-Organization-AuthAs: Internal"
    attach_budget_bytes: int = 8_388_608
    token_days: int = 90
    refusal_reports_per_hour: int = 20  # reports of refused staff replies mailed to staff


@dataclass
class PrivacyConfig:
    encryption_key_file: str = ""
    identity_retention_days: int = 30  # days after the decision; 0: at the first purge after it
    document_retention_days: int = 0  # 0: keep
    raw_retention_days: int = 0  # 0: keep


@dataclass
class RegistryConfig:
    period_from_march_31: str = "same_day"  # same_day | next_day
    renewal_period_from: str = "old_expiry"  # old_expiry | decision_date


@dataclass
class SchedulerConfig:
    # Times are Asia/Tokyo wall-clock times; the reminder time and the business days come
    # from rules/renewal.toml and rules/calendar.toml.
    digest_time: str = "09:00"
    sender_interval_seconds: int = 30


@dataclass
class EventsConfig:
    # Form 4 attached to every event notice. When empty, the blank form in mailflow/data is attached.
    attendance_form: str = ""
    # The reply deadline in an event notice is this many days before the first event day,
    # moved to the business day before when it is not a business day.
    reply_days_before: int = 14
    send_time: str = "09:00"  # Asia/Tokyo time the notices go out on the planned send date


@dataclass
class PathsConfig:
    data_dir: str = "data"
    rules_dir: str = ""
    templates_dir: str = ""
    log_file: str = ""


@dataclass
class Config:
    mailbox: MailboxConfig = field(default_factory=MailboxConfig)
    outbound: OutboundConfig = field(default_factory=OutboundConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    bureau: BureauConfig = field(default_factory=BureauConfig)
    intake: IntakeConfig = field(default_factory=IntakeConfig)
    staff: StaffConfig = field(default_factory=StaffConfig)
    privacy: PrivacyConfig = field(default_factory=PrivacyConfig)
    registry: RegistryConfig = field(default_factory=RegistryConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    events: EventsConfig = field(default_factory=EventsConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    source: Path | None = None

    @property
    def base_dir(self) -> Path:
        """Folder that relative paths in the file are resolved against."""
        return self.source.parent if self.source else Path.cwd()

    def resolve(self, value: str) -> Path:
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.base_dir / path

    @property
    def data_dir(self) -> Path:
        return self.resolve(self.paths.data_dir)

    @property
    def rules_dir(self) -> Path:
        return self.resolve(self.paths.rules_dir) if self.paths.rules_dir else DEFAULT_RULES_DIR

    @property
    def templates_dir(self) -> Path:
        return self.resolve(self.paths.templates_dir) if self.paths.templates_dir else DEFAULT_TEMPLATES_DIR

    @property
    def database_url(self) -> str:
        url = self.database.url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
            return prefix + str(self.resolve(url[len(prefix):]))
        return url

    @property
    def notify_addresses(self) -> list[str]:
        return self.bureau.notify_addresses or self.bureau.staff_addresses


CHOICES: dict[str, tuple[str, ...]] = {
    "mailbox.type": ("maildir", "imap"),
    "mailbox.imap.security": ("ssl", "starttls", "plain"),
    "outbound.type": ("files", "smtp"),
    "outbound.smtp.security": ("starttls", "ssl", "plain"),
    "outbound.smtp.auth": ("auto", "plain", "login", "xoauth2", "none"),
    "registry.period_from_march_31": ("same_day", "next_day"),
    "registry.renewal_period_from": ("old_expiry", "decision_date"),
}

LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


def _fill(target: Any, data: dict[str, Any], prefix: str, file: str, problems: list[str]) -> None:
    """Copy ``data`` onto the dataclass ``target``, checking names and types."""
    fields = {f.name: f for f in dataclasses.fields(target) if f.name != "source"}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if key not in fields:
            problems.append(f"{file}: 不明なキー {dotted} = {value!r}（綴りを確認してください）")
            continue
        current = getattr(target, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                problems.append(f"{file}: {dotted} は表（[{dotted}]）でなければなりません。値: {value!r}")
                continue
            _fill(current, value, dotted + ".", file, problems)
            continue
        expected = type(current)
        if expected is bool and not isinstance(value, bool):
            problems.append(f"{file}: {dotted} は true か false です。値: {value!r}")
        elif expected is int and (isinstance(value, bool) or not isinstance(value, int)):
            problems.append(f"{file}: {dotted} は整数です。値: {value!r}")
        elif expected is str and not isinstance(value, str):
            problems.append(f"{file}: {dotted} は文字列です。値: {value!r}")
        elif expected is list and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            problems.append(f"{file}: {dotted} は文字列の配列です。値: {value!r}")
        else:
            setattr(target, key, value)


def _check(config: Config, file: str, problems: list[str]) -> None:
    """Check values that are well-typed but still wrong."""

    def get(dotted: str) -> Any:
        value: Any = config
        for part in dotted.split("."):
            value = getattr(value, part)
        return value

    for dotted, allowed in CHOICES.items():
        value = get(dotted)
        if value not in allowed:
            problems.append(f"{file}: {dotted} = {value!r} は使えません。次のいずれかを指定してください: {', '.join(allowed)}")

    positive = [
        "mailbox.poll_interval_seconds", "mailbox.max_message_bytes", "mailbox.imap.port",
        "mailbox.imap.idle_refresh_seconds", "mailbox.imap.poll_interval_seconds",
        "mailbox.imap.reconnect_max_seconds", "mailbox.imap.timeout_seconds",
        "outbound.smtp.port", "outbound.rate_per_minute", "outbound.retry_deadline_hours",
        "outbound.retry_initial_seconds", "outbound.max_attempts", "outbound.smtp.timeout_seconds",
        "intake.review_days_registration", "intake.review_days_renewal", "intake.max_attachment_bytes",
        "intake.max_receipts_per_day",
        "staff.token_days", "staff.refusal_reports_per_hour", "database.busy_timeout_ms",
        "scheduler.sender_interval_seconds", "events.reply_days_before",
    ]
    for dotted in positive:
        value = get(dotted)
        if value <= 0:
            problems.append(f"{file}: {dotted} は 1 以上の整数です。値: {value!r}")
    for dotted in ("mailbox.imap.port", "outbound.smtp.port"):
        if get(dotted) > 65535:
            problems.append(f"{file}: {dotted} は 65535 以下のポート番号です。値: {get(dotted)!r}")
    if config.mailbox.imap.idle_refresh_seconds > 29 * 60:
        problems.append(
            f"{file}: mailbox.imap.idle_refresh_seconds は 1740 以下にしてください（RFC 2177 は 29 分まで）。"
            f"値: {config.mailbox.imap.idle_refresh_seconds!r}"
        )
    for dotted in ("intake.settle_seconds", "privacy.identity_retention_days",
                   "privacy.document_retention_days", "privacy.raw_retention_days"):
        if get(dotted) < 0:
            problems.append(f"{file}: {dotted} は 0 以上の整数です。値: {get(dotted)!r}")

    for dotted in ("bureau.intake_address", "outbound.from_address"):
        value = get(dotted)
        if not ADDRESS_RE.match(value):
            problems.append(f"{file}: {dotted} = {value!r} はメールアドレスではありません")
    for dotted in ("bureau.staff_addresses", "bureau.notify_addresses"):
        for value in get(dotted):
            if not ADDRESS_RE.match(value):
                problems.append(f"{file}: {dotted} の {value!r} はメールアドレスではありません")

    if config.mailbox.type == "imap":
        imap = config.mailbox.imap
        if not imap.username:
            problems.append(f"{file}: mailbox.imap.username が空です（IMAP のログイン名を指定してください）")
        if not (imap.password or imap.password_file or imap.oauth2_command):
            problems.append(f"{file}: mailbox.imap には password、password_file、oauth2_command のいずれかが必要です")
        if imap.security == "plain" and imap.host not in LOOPBACK_HOSTS:
            problems.append(
                f"{file}: mailbox.imap.security = 'plain' はループバック以外では使えません。host: {imap.host!r}"
                "（ssl か starttls を指定してください）"
            )
    if config.outbound.type == "smtp":
        smtp = config.outbound.smtp
        if smtp.security == "plain" and smtp.host not in LOOPBACK_HOSTS:
            problems.append(
                f"{file}: outbound.smtp.security = 'plain' はループバック以外では使えません。host: {smtp.host!r}"
                "（starttls か ssl を指定してください）"
            )
        if smtp.auth == "xoauth2" and not smtp.oauth2_command:
            problems.append(f"{file}: outbound.smtp.auth = 'xoauth2' には outbound.smtp.oauth2_command が必要です")

    for dotted in ("scheduler.digest_time", "events.send_time"):
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", get(dotted)):
            problems.append(f"{file}: {dotted} = {get(dotted)!r} は HH:MM 形式（例 09:00）で指定してください")
    # The reply deadline must fall after the notice window, which ends 5 weeks (35 days) before the first day.
    if config.events.reply_days_before >= 35:
        problems.append(f"{file}: events.reply_days_before は 34 以下にしてください（案内期間の終わりより後の日にするため）。"
                        f"値: {config.events.reply_days_before!r}")
    attendance_form = config.events.attendance_form
    if attendance_form and not config.resolve(attendance_form).is_file():
        problems.append(f"{file}: events.attendance_form = {attendance_form!r} が見つかりません")

    url = config.database.url
    if not (url.startswith("sqlite:") or url.startswith("postgresql")):
        problems.append(f"{file}: database.url = {url!r} は sqlite:/// か postgresql+psycopg:// で始めてください")
    key_file = config.privacy.encryption_key_file
    if key_file and not config.resolve(key_file).is_file():
        problems.append(f"{file}: privacy.encryption_key_file = {key_file!r} が見つかりません")
    _check_trusted_header(config.staff.trusted_header, file, problems)


def _check_trusted_header(setting: str, file: str, problems: list[str]) -> None:
    """Check that a set ``staff.trusted_header`` reads "Name: value", with both parts present.

    Staff replies are matched against both parts, so a setting without a value would
    reject every staff reply at run time.
    """
    if not setting:
        return
    name, separator, value = setting.partition(":")
    if not separator or not value.strip():
        problems.append(
            f"{file}: staff.trusted_header = {setting!r} に値がありません。"
            "「名前: 値」の形で指定してください（例 \"X-MS-Exchange-Organization-AuthAs: Internal\"）"
        )
    if not HEADER_NAME_RE.fullmatch(name.strip()):
        problems.append(
            f"{file}: staff.trusted_header = {setting!r} のヘッダー名 {name.strip()!r} が不正です。"
            "ヘッダー名は空白とコロンを含まない ASCII の文字列です"
        )


def load_config(path: str | Path | None = None) -> Config:
    """Read ``path`` (or return the defaults when it is None) and validate it.

    Raises ConfigError listing every problem at once.
    """
    config = Config()
    if path is None:
        return config
    path = Path(path)
    file = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([f"{file}: 設定ファイルが見つかりません"]) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{file}: TOML として読めません: {exc}"]) from None
    config.source = path.resolve()
    problems: list[str] = []
    _fill(config, data, "", file, problems)
    _check(config, file, problems)
    if problems:
        raise ConfigError(problems)
    return config


def read_secret(config: Config, value: str, file_value: str) -> str:
    """Return a secret given inline or in a file (first line, stripped)."""
    if value:
        return value
    if file_value:
        return config.resolve(file_value).read_text(encoding="utf-8").splitlines()[0].strip()
    return ""
