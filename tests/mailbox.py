"""A real SMTP server for the mail tests: aiosmtpd on 127.0.0.1, a free port,
keeping every message it receives (parsed with the ``email`` package)."""

from __future__ import annotations

import email
import email.message
import email.policy
import re
import threading
import time
import typing as t

from aiosmtpd.controller import Controller

from tests.helpers import free_port


class Mailbox:
    """What the server received, in order."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self._lock = threading.Lock()
        self.port = 0

    async def handle_DATA(self, server: t.Any, session: t.Any, envelope: t.Any) -> str:  # noqa: N802 (aiosmtpd's name)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self.messages.append(t.cast(email.message.EmailMessage, message))
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"

    def config(self) -> dict[str, t.Any]:
        """The app's Flask-Mailman settings for this server."""
        return {
            "MAIL_BACKEND": "smtp",
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": self.port,
            "MAIL_DEFAULT_SENDER": "security@example.com",
            "MAIL_TIMEOUT": 5,
        }

    def wait_for(self, count: int, timeout: float = 10.0) -> list[email.message.EmailMessage]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.messages)

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()
            self.envelopes.clear()

    def subjects(self) -> list[str]:
        return [str(m["Subject"]) for m in self.messages]


def received(app: t.Any, mailbox: Mailbox, count: int) -> list[email.message.EmailMessage]:
    """Wait until ``app``'s mail worker handed every mail over, then for ``count`` mails."""
    from tests.helpers import state_of

    assert state_of(app).mailer.wait()
    messages = mailbox.wait_for(count)
    assert len(messages) == count, mailbox.subjects()
    return messages


def bodies(message: email.message.EmailMessage) -> tuple[str, str]:
    """The plain-text and HTML parts."""
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def link_in(message: email.message.EmailMessage, pattern: str) -> str:
    """The first link of the plain-text part that matches ``pattern``."""
    text, _ = bodies(message)
    match = re.search(rf"(https?://\S*{pattern}\S*)", text)
    assert match is not None, text
    return match.group(1)


def start_smtp() -> tuple[Controller, Mailbox]:
    box = Mailbox()
    box.port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    return controller, box
