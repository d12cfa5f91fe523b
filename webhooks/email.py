"""E-mail, the whole channel in one module: the send through aiosmtplib to the server in SMTP_URL
(``smtp://user:pass@host:port`` or ``smtps://``). Replies by e-mail would come in here too."""
from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import unquote, urlsplit

import aiosmtplib

from core.channels import CannotTell, Channel, Outgoing, SendResult


@dataclass(frozen=True)
class SmtpServer:
    hostname: str
    port: int
    username: str | None
    password: str | None
    use_tls: bool  # smtps: TLS from the first byte; smtp: STARTTLS when the server offers it


def parse_smtp_url(url: str) -> SmtpServer:
    """``smtp://user:pass@host:port`` → server settings; ValueError saying what to change."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError(f"SMTP_URL must look like smtp://user:pass@host:587 or smtps://host:465, not {url!r}")
    try:
        port = parts.port or (465 if parts.scheme == "smtps" else 587)
    except ValueError:
        raise ValueError(f"SMTP_URL has a port that is not a number: {url!r}") from None
    return SmtpServer(hostname=parts.hostname, port=port,
                      username=unquote(parts.username) if parts.username else None,
                      password=unquote(parts.password) if parts.password else None,
                      use_tls=parts.scheme == "smtps")


def build_message(msg: Outgoing, sender: str) -> EmailMessage:
    """A plain-text message; its Message-ID comes from the outbox key, so a receiver can spot a repeat."""
    email = EmailMessage()
    email["From"] = sender
    email["To"] = msg.address
    # Every e-mail is queued with its subject (handlers.outbound); the product name is the neutral fallback.
    email["Subject"] = (msg.payload or {}).get("subject") or "Påminn"
    email["Date"] = formatdate(localtime=False)
    domain = sender.rsplit("@", 1)[-1].strip(" >") or "paminn.local"
    email["Message-ID"] = make_msgid(idstring=f"paminn-{msg.id}", domain=domain)
    email.set_content(msg.body)
    return email


class EmailChannel(Channel):
    name = "email"
    askable = False  # SMTP cannot be asked afterwards whether a message went through
    max_in_flight = 10  # one connection per message: stay well inside a server's per-client limit

    def __init__(self, smtp_url: str, sender: str, timeout: float = 15.0):
        self._server = parse_smtp_url(smtp_url)
        self._sender = sender
        self._timeout = timeout

    async def send(self, msg: Outgoing) -> SendResult:
        server = self._server
        try:
            await aiosmtplib.send(
                build_message(msg, self._sender), hostname=server.hostname, port=server.port,
                username=server.username, password=server.password, use_tls=server.use_tls,
                start_tls=None if not server.use_tls else False, timeout=self._timeout)
        except aiosmtplib.SMTPRecipientsRefused:
            return SendResult("failed", error_code="rcpt", error_message="recipient refused")
        except aiosmtplib.SMTPConnectError as exc:  # connect timeouts included: nothing left us
            return SendResult("retry", error_code="connect", error_message=type(exc).__name__, outage=True)
        except aiosmtplib.SMTPResponseException as exc:
            if 400 <= exc.code < 500:
                return SendResult("retry", error_code=str(exc.code), error_message="temporary SMTP error")
            return SendResult("failed", error_code=str(exc.code), error_message="SMTP refused the message")
        except (aiosmtplib.SMTPException, OSError) as exc:
            # Cut off during the conversation: the server may or may not have taken it.
            return SendResult("unknown", error_code="transport", error_message=type(exc).__name__, outage=True)
        return SendResult("sent", status="sent")

    async def find_sent(self, msg: Outgoing) -> str | None:
        raise CannotTell("SMTP cannot say whether a message went through")
