"""The long-running daemon: a mailbox watcher thread, scheduled planners and the sender.

SIGTERM and SIGINT stop it gracefully: the watcher finishes the message in hand, the
scheduler waits for running jobs, and the process exits 0.
"""

from __future__ import annotations

import logging
import signal
import threading
import time

from mailflow.app import App
from mailflow.mailbox.base import MailboxError

logger = logging.getLogger(__name__)

WATCH_SLICE_SECONDS = 1.0  # how often a waiting watcher looks at the stop flag


class Daemon:
    """Run ``app`` until :meth:`stop` is called or a stop signal arrives."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.stopping = threading.Event()
        self.scheduler = None
        self.watcher: threading.Thread | None = None

    def stop(self, *_args) -> None:
        if not self.stopping.is_set():
            logger.info("daemon stopping")
        self.stopping.set()
        # Ends a reconnect backoff or an IDLE wait at once instead of at the join timeout.
        self.app.interrupt_source()

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)

    def run(self) -> int:
        from mailflow.jobs import build_scheduler

        logger.info("daemon starting source=%s", self.app.config.mailbox.type)
        self.scheduler = build_scheduler(self.app, self.stopping)
        self.scheduler.start()
        self.watcher = threading.Thread(target=self._watch, name="mailbox-watcher", daemon=True)
        self.watcher.start()
        try:
            while not self.stopping.wait(WATCH_SLICE_SECONDS):
                if not self.watcher.is_alive():
                    logger.error("mailbox watcher ended unexpectedly; stopping the daemon")
                    self.stopping.set()
        finally:
            self.stopping.set()
            self.watcher.join(timeout=120)
            self.scheduler.shutdown(wait=True)
            self.app.close()
            logger.info("daemon stopped")
        return 0

    def _watch(self) -> None:
        backoff = 1.0
        max_backoff = float(self.app.config.mailbox.imap.reconnect_max_seconds)
        while not self.stopping.is_set():
            try:
                self.app.intake_pass(stop=self.stopping)
                backoff = 1.0
                self._wait_for_mail()
            except MailboxError as exc:
                logger.warning("mailbox unavailable error=%s retry_in=%.0fs", exc, backoff)
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, max_backoff)
            except Exception:
                logger.exception("watcher pass failed; retrying in %.0fs", backoff)
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, max_backoff)

    def _wait_for_mail(self) -> None:
        source = self.app.source
        interval = self._poll_interval()
        deadline = time.monotonic() + interval
        while not self.stopping.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            if source.wait(min(remaining, WATCH_SLICE_SECONDS)):
                return

    def _poll_interval(self) -> float:
        config = self.app.config
        if config.mailbox.type == "imap":
            return float(config.mailbox.imap.poll_interval_seconds)
        return float(config.mailbox.poll_interval_seconds)
