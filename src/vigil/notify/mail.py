"""E-mail notifications over SMTP: one UTF-8 message per delivery (stdlib ``smtplib`` in a worker thread)."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from vigil.notify.channels import Message, scrub

__all__ = ["build_email", "send_email"]


def build_email(msg: Message, options: dict[str, Any]) -> EmailMessage:
    """The message: ``msg``'s title as the subject, its lines as a UTF-8 plain-text body."""
    mail = EmailMessage()
    mail["Subject"] = msg.title
    mail["From"] = options["mail_from"]
    mail["To"] = ", ".join(options["mail_to"])
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = make_msgid(domain="vigil.local")
    mail.set_content("\n".join(msg.lines) + "\n", charset="utf-8")
    return mail


def _send_sync(mail: EmailMessage, options: dict[str, Any], password: str, timeout: float) -> None:
    host, port = options["smtp_host"], int(options.get("smtp_port") or 25)
    with smtplib.SMTP(host, port, timeout=timeout) as smtp:
        if options.get("starttls"):
            smtp.starttls(context=ssl.create_default_context())
        if options.get("smtp_user"):
            smtp.login(options["smtp_user"], password)
        smtp.send_message(mail)


async def send_email(msg: Message, options: dict[str, Any], password: str, *, retries: int = 3,
                     backoff: float = 0.5, timeout: float = 10.0) -> tuple[bool, int | None, str, int]:
    """Send ``msg`` by SMTP: (ok, SMTP code of a refusal, error, tries); never raises, never shows the password."""
    mail = build_email(msg, options)
    code: int | None = None
    error = ""
    for attempt in range(retries):
        if attempt:
            await asyncio.sleep(backoff * 2 ** (attempt - 1))
        try:
            await asyncio.to_thread(_send_sync, mail, options, password, timeout)
            return True, None, "", attempt + 1
        except smtplib.SMTPResponseException as exc:
            code, error = exc.smtp_code, f"SMTP {exc.smtp_code}: {exc.smtp_error!r}"
            if 500 <= exc.smtp_code < 600:  # refused for good in this round (bad login, bad recipient)
                break
        except smtplib.SMTPRecipientsRefused as exc:
            code, error = None, f"SMTP recipients refused: {', '.join(exc.recipients)}"
            break
        except (smtplib.SMTPException, OSError, ValueError) as exc:
            code, error = None, f"{type(exc).__name__}: {exc}"
    return False, code, scrub(error, (password,))[:500], attempt + 1
