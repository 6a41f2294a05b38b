"""Email delivery with smtplib: SSL (465) or STARTTLS (587), TLS required unless security = "none",
a multipart text + HTML message with a Date and a Message-ID fixed when it was queued. The
password comes from the environment or a file.

What each failure means: a refused login does not get better by retrying the same password
(the channel is off until the credentials change, and an alert says so); a 5xx answer (552 too
big, 550 no such mailbox) is permanent (dropped, with an alert); everything else (4xx, timeouts,
unreachable, TLS) is retried with backoff. Each send has a total deadline (deadline.py), not
just a timeout per read.
"""

from __future__ import annotations

import smtplib
import ssl
import time
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from ..config import EmailConfig
from .deadline import Deadline
from .discord import Delivery


def new_message_id(sender: str) -> str:
    return make_msgid("chute", domain=sender.rpartition("@")[2] or "localhost")


class EmailSender:
    def __init__(self, config: EmailConfig, password: str | None, ca_file: str | None = None) -> None:
        self.config = config
        self._password = password
        self._ca_file = ca_file

    def message(self, payload: dict) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = self.config.sender
        msg["To"] = ", ".join(self.config.to)
        msg["Subject"] = payload["subject"]
        msg["Date"] = formatdate(payload.get("created", time.time()), localtime=True)
        msg["Message-ID"] = payload.get("message_id") or new_message_id(self.config.sender)
        msg.set_content(payload["text"])
        if payload.get("html"):
            msg.add_alternative(payload["html"], subtype="html")
        return msg

    def send(self, payload: dict) -> Delivery:
        c = self.config
        where = f"{c.host}:{c.port}"
        msg = self.message(payload)
        context = ssl.create_default_context(cafile=self._ca_file or None)
        server = (
            smtplib.SMTP_SSL(timeout=c.timeout, context=context)
            if c.security == "ssl"
            else smtplib.SMTP(timeout=c.timeout)
        )
        # Connecting after construction puts the greeting under the deadline too; smtplib takes
        # the TLS server name from _host, which only its constructor's connect would have set.
        server._host = c.host
        accepted = False
        with Deadline(c.timeout) as deadline:
            deadline.watch(lambda: server.sock)
            try:
                with server:
                    server.connect(c.host, c.port)
                    refusal = self._start(server, context, where)
                    if refusal is not None:
                        return refusal
                    server.send_message(msg)
                    accepted = True
            except Exception as exc:
                if accepted:
                    return Delivery("sent")  # the server took the message; only the goodbye failed
                if deadline.expired:
                    return Delivery(
                        "retry", error=f"{where} did not answer within {c.timeout:g}s (the whole send)"
                    )
                return _failure(where, c.timeout, exc)
        return Delivery("sent")

    def _start(self, server: smtplib.SMTP, context: ssl.SSLContext, where: str) -> Delivery | None:
        """TLS and login; a Delivery if the session cannot go on."""
        c = self.config
        if c.security == "starttls":
            server.ehlo()
            if not server.has_extn("starttls"):
                return Delivery(
                    "retry",
                    error=f"{where} does not offer STARTTLS; chute will not send in "
                    'clear text (set email.security = "none" to allow it)',
                )
            server.starttls(context=context)
            server.ehlo()
        if c.user:
            if self._password is None:
                return Delivery(
                    "retry",
                    error="email.user is set but there is no password "
                    "(CHUTE_SMTP_PASSWORD or email.password_file)",
                )
            server.login(c.user, self._password)
        return None


def _failure(where: str, timeout: float, exc: Exception) -> Delivery:
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return Delivery(
            "disabled",
            error=f"{where} refused the login: {exc.smtp_code} {_text(exc.smtp_error)}; email is off "
            "until the user or password changes",
        )
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        answers = "; ".join(f"{addr}: {code} {_text(text)}" for addr, (code, text) in exc.recipients.items())
        permanent = all(code >= 500 for code in codes)
        return Delivery("dead" if permanent else "retry", error=f"{where} refused the recipients: {answers}")
    if isinstance(exc, smtplib.SMTPResponseException):
        answer = f"{exc.smtp_code} {_text(exc.smtp_error)}"
        if exc.smtp_code >= 500:
            return Delivery("dead", error=f"{where} refused the message for good: {answer}")
        return Delivery("retry", error=f"{where} answered {answer}")
    if isinstance(exc, TimeoutError) or (isinstance(exc, smtplib.SMTPException) and "timed out" in str(exc)):
        return Delivery("retry", error=f"{where} did not answer within {timeout:g}s")
    if isinstance(exc, ssl.SSLError):
        return Delivery("retry", error=f"TLS with {where} failed: {exc.reason or exc}")
    if isinstance(exc, smtplib.SMTPException):
        return Delivery("retry", error=f"{where}: {type(exc).__name__}: {exc}")
    if isinstance(exc, OSError):
        return Delivery("retry", error=f"cannot reach {where}: {exc.strerror or exc}")
    return Delivery("retry", error=f"{where}: {type(exc).__name__}: {exc}")


def _text(value: bytes | str) -> str:
    return (value.decode(errors="replace") if isinstance(value, bytes) else str(value))[:120]
