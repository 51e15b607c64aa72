"""The account-protection mails: composed in the caller's context from
overridable templates (``sessionauth/email/<name>.txt`` and ``.html``), then
sent by one small worker thread per app.

Why a thread and not ``after_this_request`` / ``call_on_close``: the signals
that send these mails also fire outside requests (the CLI, the Python API,
jobs), and a slow or dead SMTP server must delay neither the response nor the
action. The worker starts on the first mail and stops after a few idle
seconds. A failure (SMTP down, the app's callable raising) is logged, never
raised: the action already happened. :meth:`Mailer.wait` lets tests (and a
shutdown hook) wait until every queued mail has been handed over.
Never a session token in a mail: the "This wasn't me" link is a signed,
single-use reference of its own (:mod:`.recovery`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.message
import email.utils
import logging
import queue
import secrets
import threading
import time
import typing as t
import weakref

from flask import Flask

from ..core import messages
from ..core.presentation import device_label
from ..core.presentation import format_exact
from ..core.presentation import location_of
from .i18n import force
from .i18n import mail_locale
from .i18n import sa
from .i18n import sa_n
from .i18n import sa_text
from .i18n import sa_text_n
from .i18n import text_direction

log = logging.getLogger("flask_sessionauth.mail")

#: A worker waits this long for more mail before it stops.
IDLE_SECONDS = 5.0


@dataclasses.dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str
    html: str
    sender: str | None = None

    @property
    def message_id(self) -> str:
        """Made from ``secrets``: ``email.utils.make_msgid`` would draw on the
        global ``random`` state from the worker thread (and look up the FQDN)."""
        domain = (self.sender or "").rpartition("@")[2].strip(">") or "sessionauth.invalid"
        return f"<{secrets.token_hex(16)}@{domain}>"

    def as_message(self) -> email.message.EmailMessage:
        message = email.message.EmailMessage()
        message["Subject"] = self.subject
        message["To"] = self.to
        if self.sender:
            message["From"] = self.sender
        message["Date"] = email.utils.formatdate(localtime=False)
        message["Message-ID"] = self.message_id
        message.set_content(self.text)
        message.add_alternative(self.html, subtype="html")
        return message


class Mailer:
    """One app's mail: Flask-Mailman (``MAIL_*``) or the app's ``SESSIONAUTH_MAIL_SEND``."""

    def __init__(self, app: Flask) -> None:
        # Weakly: the worker thread must not keep a dropped app (and its pools) alive.
        self._app = weakref.ref(app)
        self.site_name = str(app.config["SESSIONAUTH_SITE_NAME"])
        self.send_callable: t.Callable[[email.message.EmailMessage], t.Any] | None = app.config["SESSIONAUTH_MAIL_SEND"]
        self.enabled = True
        if self.send_callable is None:
            try:  # optional dependency: the [mail] extra
                import flask_mailman  # type: ignore[import-untyped]
            except ImportError:
                log.warning(
                    "flask-sessionauth: no mail is sent: install flask-sessionauth[mail] or set SESSIONAUTH_MAIL_SEND"
                )
                self.enabled = False
            else:
                if "mailman" not in app.extensions:
                    flask_mailman.Mail(app)
        self._queue: queue.Queue[Mail] = queue.Queue()
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None

    @property
    def app(self) -> Flask:
        app = self._app()
        if app is None:
            raise RuntimeError("flask-sessionauth: the app of this mailer is gone")
        return app

    def compose(self, template: str, to: str, **context: t.Any) -> Mail:
        """Render ``sessionauth/email/<template>``: the app's Jinja environment
        (so an app's template of that name wins), without the page context
        processors, which need a request (mails are sent from the CLI too).

        In the recipient's language and time zone as far as known
        (:func:`.i18n.mail_locale`: the triggering request's, else the app's
        default), fixed here, before the mail is queued for the worker."""
        locale, zone = mail_locale(self.app.config)
        with force(locale, zone):
            context.setdefault("site_name", self.site_name)
            context.update(lang=locale.replace("_", "-"), dir=text_direction(locale))
            session = context.get("session")
            if session is not None:
                context.setdefault("device", device_label(session))
                context.setdefault("place", location_of(session))
            if isinstance(context.get("when"), dt.datetime):
                context["when_text"] = format_exact(context["when"])
            context["subject"] = messages.MAIL_SUBJECTS[template] % {"site": self.site_name, **context}
            env = self.app.jinja_env
            text = env.get_template(f"sessionauth/email/{template}.txt").render(context, _sa=sa_text, _sa_n=sa_text_n)
            html = env.get_template(f"sessionauth/email/{template}.html").render(context, _sa=sa, _sa_n=sa_n)
        return Mail(to, context["subject"], text, html, self.app.config.get("MAIL_DEFAULT_SENDER"))

    def send(self, template: str, to: t.Any, **context: t.Any) -> None:
        """Compose and queue a mail; never raises (a mail is never worth failing the action)."""
        if not self.enabled or not isinstance(to, str) or "@" not in to:
            return
        try:
            mail = self.compose(template, to, **context)
        except Exception:
            log.exception("flask-sessionauth: could not compose the %r mail", template)
            return
        self._queue.put(mail)
        with self._lock:
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="sessionauth-mail", daemon=True)
                self._worker.start()

    def _work(self) -> None:
        while True:
            try:
                mail = self._queue.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                with self._lock:
                    if self._queue.empty():
                        self._worker = None
                        return
                continue
            app = self._app()
            try:
                if app is None:  # the app was dropped: nobody is left to send for
                    continue
                with app.app_context():
                    self._deliver(mail)
            except Exception:
                # The address is personal data: the log names the mail, not the recipient.
                log.exception("flask-sessionauth: sending the mail %r failed", mail.subject)
            finally:
                del app
                self._queue.task_done()

    def _deliver(self, mail: Mail) -> None:
        if self.send_callable is not None:
            self.send_callable(mail.as_message())
            return
        import flask_mailman  # type: ignore[import-untyped]

        headers = {"Message-ID": mail.message_id}
        message = flask_mailman.EmailMultiAlternatives(mail.subject, mail.text, mail.sender, [mail.to], headers=headers)
        message.attach_alternative(mail.html, "text/html")
        message.send()

    def wait(self, timeout: float = 10.0) -> bool:
        """Wait until every queued mail was sent (or failed); ``False`` on timeout."""
        deadline = time.monotonic() + timeout
        with self._queue.all_tasks_done:
            while self._queue.unfinished_tasks:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._queue.all_tasks_done.wait(remaining)
        return True
