"""Email delivery with smtplib: SSL (465) or STARTTLS (587), TLS required unless security = "none",
a multipart text + HTML message. The password comes from the environment or a file."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from ..config import EmailConfig
from .discord import Delivery


class EmailSender:
    def __init__(self, config: EmailConfig, password: str | None, ca_file: str | None = None) -> None:
        self.config = config
        self._password = password
        self._ca_file = ca_file

    def message(self, subject: str, text: str, html: str | None) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = self.config.sender
        msg["To"] = ", ".join(self.config.to)
        msg["Subject"] = subject
        msg.set_content(text)
        if html:
            msg.add_alternative(html, subtype="html")
        return msg

    def send(self, payload: dict) -> Delivery:
        c = self.config
        msg = self.message(payload["subject"], payload["text"], payload.get("html"))
        context = ssl.create_default_context(cafile=self._ca_file or None)
        where = f"{c.host}:{c.port}"
        try:
            if c.security == "ssl":
                server = smtplib.SMTP_SSL(c.host, c.port, timeout=c.timeout, context=context)
            else:
                server = smtplib.SMTP(c.host, c.port, timeout=c.timeout)
            with server:
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
                server.send_message(msg)
        except smtplib.SMTPAuthenticationError as exc:
            return Delivery(
                "retry",
                error=f"{where} refused the login: {exc.smtp_code} "
                f"{exc.smtp_error.decode(errors='replace')[:120]}",
            )
        except TimeoutError:
            return Delivery("retry", error=f"{where} did not answer within {c.timeout:g}s")
        except ssl.SSLError as exc:
            return Delivery("retry", error=f"TLS with {where} failed: {exc.reason or exc}")
        except smtplib.SMTPException as exc:
            if "timed out" in str(exc):
                return Delivery("retry", error=f"{where} did not answer within {c.timeout:g}s")
            return Delivery("retry", error=f"{where}: {type(exc).__name__}: {exc}")
        except OSError as exc:
            return Delivery("retry", error=f"cannot reach {where}: {exc.strerror or exc}")
        return Delivery("sent")
