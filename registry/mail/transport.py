"""How a composed message leaves: SMTP over TLS, or (no mail server configured) the log.

TLS is required: `smtps://` (TLS from the first byte) or `smtp://` with STARTTLS; a server that
does not offer STARTTLS gets nothing, neither credentials nor a message (links in mail are keys to
people's records). `REGISTRY_SMTP_ALLOW_PLAINTEXT` lifts this for a relay on this machine only.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import smtplib
import ssl
from collections.abc import Callable
from email.message import EmailMessage
from urllib.parse import SplitResult, unquote, urlsplit

from registry.config import ConfigError, get_settings

logger = logging.getLogger("registry.mail")

_LINK = re.compile(r"https?://\S+")


class Bounced(Exception):
    """The server refused the recipient or the message for good (a 5xx reply): do not retry."""


class Temporary(Exception):
    """Try again later (server down, 4xx reply, TLS refused...)."""


Sender = Callable[[EmailMessage], None]


def mask(address: str) -> str:
    """`jane.doe@example.org` -> `j•••@example.org` (what staff pages and logs show)."""
    local, _, domain = address.strip().partition("@")
    return f"{local[:1]}•••@{domain}" if domain else "•••"


def redact_links(text: str) -> str:
    return _LINK.sub("[link redacted]", text)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def smtp_sender(url: str, *, allow_plaintext: bool = False, timeout: float = 20) -> SmtpSender:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme not in ("smtp", "smtps") or not host:
        raise ConfigError(
            "REGISTRY_SMTP_URL must look like smtp://user:pass@host:587 or smtps://host:465"
        )
    if allow_plaintext and not _is_loopback(host):
        raise ConfigError(
            "REGISTRY_SMTP_ALLOW_PLAINTEXT is only for a relay on this machine (127.0.0.1, ::1 "
            f"or localhost), not {host}: use STARTTLS or smtps:// for a remote server."
        )

    return SmtpSender(parts, host, allow_plaintext=allow_plaintext, timeout=timeout)


class SmtpSender:
    """Sends messages over one connection, opened (TLS, login) at the first message and kept
    for the next ones of the same round (`close` ends it): a burst of confirmations does not
    open a connection and a TLS session for each. Any error drops the connection; the next
    message opens a new one."""

    def __init__(
        self, parts: SplitResult, host: str, *, allow_plaintext: bool, timeout: float
    ) -> None:
        self.parts, self.host = parts, host
        self.allow_plaintext, self.timeout = allow_plaintext, timeout
        self._client: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        parts, host = self.parts, self.host
        context = ssl.create_default_context()
        client: smtplib.SMTP
        if parts.scheme == "smtps":
            client = smtplib.SMTP_SSL(
                host, parts.port or 465, context=context, timeout=self.timeout
            )
        else:
            client = smtplib.SMTP(host, parts.port or 587, timeout=self.timeout)
        try:
            if parts.scheme == "smtp":
                client.ehlo()
                if client.has_extn("starttls"):
                    client.starttls(context=context)
                    client.ehlo()
                elif not self.allow_plaintext:
                    raise Temporary(
                        f"refused to send: the mail server {host} does not offer STARTTLS "
                        "(use smtps://, enable TLS on the server, or set "
                        "REGISTRY_SMTP_ALLOW_PLAINTEXT for a relay on this machine)"
                    )
            if parts.username:
                client.login(unquote(parts.username), unquote(parts.password or ""))
        except BaseException:
            client.close()
            raise
        return client

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.quit()
            except (OSError, smtplib.SMTPException):
                client.close()

    def __call__(self, message: EmailMessage) -> None:
        if self._client is not None:  # kept from the last message: still there?
            try:
                self._client.noop()
            except (OSError, smtplib.SMTPException):
                self.close()
        try:
            if self._client is None:
                self._client = self._connect()
            # The envelope goes to exactly the composed recipients, never to whatever else a
            # header might be made to name.
            self._client.send_message(message, to_addrs=recipients(message))
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            reason = "; ".join(
                f"{c} {m.decode(errors='replace')}" for c, m in exc.recipients.values()
            )
            self.close()
            if codes and all(c >= 500 for c in codes):
                raise Bounced(f"recipient refused: {reason}"[:500]) from None
            raise Temporary(f"recipient deferred: {reason}"[:500]) from None
        except smtplib.SMTPDataError as exc:
            error = exc.smtp_error
            text = error.decode(errors="replace") if isinstance(error, bytes) else str(error)
            reason = f"{exc.smtp_code} {text}"
            self.close()
            if exc.smtp_code >= 500:
                raise Bounced(f"message refused: {reason}"[:500]) from None
            raise Temporary(f"message deferred: {reason}"[:500]) from None
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            raise Temporary(f"{type(exc).__name__}: {exc}"[:500]) from None


def log_sender(message: EmailMessage, *, what: str) -> None:
    """No mail server: the log says that a message (`what`: its kind and record) was not sent,
    to whom (masked). Its body names people and their health (the log is not erasable): it is
    written only when `log_mail_bodies` is on (`serve --demo`, in dev), links still withheld."""
    to = ", ".join(mask(a) for a in recipients(message))
    settings = get_settings()
    if settings.log_mail_bodies and settings.env == "dev":
        body = message.get_body(("plain",))
        text = body.get_content() if body is not None else ""
        logger.warning(
            "Mail not sent (no REGISTRY_SMTP_URL set) to %s: %s (%s)\n%s",
            to,
            message["Subject"],
            what,
            redact_links(text),
        )
        return
    logger.warning("Mail not sent (no REGISTRY_SMTP_URL set): %s to %s", what, to)


def recipients(message: EmailMessage) -> list[str]:
    """The message's recipients as composed (one valid address each)."""
    return [a.strip() for a in str(message["To"] or "").split(",") if a.strip()]


def configured() -> bool:
    return bool(get_settings().smtp_url)


def sender() -> SmtpSender | None:
    """The SMTP sender, or None when no mail server is configured."""
    settings = get_settings()
    if not settings.smtp_url:
        return None
    return smtp_sender(settings.smtp_url, allow_plaintext=settings.smtp_allow_plaintext)
