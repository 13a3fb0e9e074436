"""Sending mail: through SMTP when SMTP_URL is set; otherwise, outside production, into a local outbox that
/dev/outbox shows (the local default and tests). Production without SMTP_URL refuses to pretend it sent."""
from __future__ import annotations

import json
import logging
import smtplib
import ssl
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from urllib.parse import parse_qsl, unquote, urlsplit

from flask import current_app
from redis import Redis
from rq import Queue, Retry

from webapp.extensions import redis_client

log = logging.getLogger(__name__)

MAIL_QUEUE = "default"
OUTBOX_KEY = "dev:outbox"
OUTBOX_SIZE = 50
OUTBOX_SECONDS = 7 * 86400
SMTP_TIMEOUT_SECONDS = 15


class MailNotConfigured(RuntimeError):
    pass


@dataclass(frozen=True)
class Message:
    to: str
    subject: str
    body: str


def is_development() -> bool:
    return current_app.config["ENVIRONMENT"] == "development"


def send(message: Message) -> None:
    """Deliver now. Callers are jobs, so nothing waits on the network inside a request or a transaction."""
    config = current_app.config
    if config["SMTP_URL"]:
        send_smtp(config["SMTP_URL"], config["MAIL_FROM"], message)
    elif is_development():
        add_to_outbox(redis_client(), message)
    else:
        raise MailNotConfigured("SMTP_URL is not set, so no mail can be sent; see README (Mail).")
    log.info("mail sent subject=%r", message.subject)


def send_smtp(url: str, sender: str, message: Message) -> None:
    """smtp://[user:password@]host[:587] with STARTTLS (`?starttls=off` for a local relay), or smtps://…[:465]."""
    parts = urlsplit(url)
    options = dict(parse_qsl(parts.query))
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = sender, message.to, message.subject
    mail.set_content(message.body)
    context = ssl.create_default_context()
    if parts.scheme == "smtps":
        client = smtplib.SMTP_SSL(parts.hostname, parts.port or 465, timeout=SMTP_TIMEOUT_SECONDS, context=context)
    else:
        client = smtplib.SMTP(parts.hostname, parts.port or 587, timeout=SMTP_TIMEOUT_SECONDS)
    with client:
        if parts.scheme == "smtp" and options.get("starttls", "on") != "off":
            client.starttls(context=context)
        if parts.username:
            client.login(unquote(parts.username), unquote(parts.password or ""))
        client.send_message(mail)


def add_to_outbox(redis: Redis, message: Message) -> None:
    entry = json.dumps({**asdict(message), "sent_at": datetime.now(UTC).isoformat(timespec="seconds")})
    with redis.pipeline() as pipe:
        pipe.lpush(OUTBOX_KEY, entry)
        pipe.ltrim(OUTBOX_KEY, 0, OUTBOX_SIZE - 1)
        pipe.expire(OUTBOX_KEY, OUTBOX_SECONDS)
        pipe.execute()


def outbox(redis: Redis) -> list[dict]:
    """Newest first."""
    return [json.loads(entry) for entry in redis.lrange(OUTBOX_KEY, 0, OUTBOX_SIZE - 1)]


def public_url(endpoint: str, **values) -> str:
    """An absolute URL on PUBLIC_URL, for mails: never built from a request's Host header, which a client picks."""
    parts = urlsplit(current_app.config["PUBLIC_URL"])
    adapter = current_app.url_map.bind(parts.netloc, script_name=parts.path or "/", url_scheme=parts.scheme)
    return adapter.build(endpoint, values, force_external=True)


def enqueue_mail_job(func: str, *args) -> None:
    """Queue a job that decides on and sends one mail (jobs/accounts.py); SMTP hiccups are retried."""
    Queue(MAIL_QUEUE, connection=redis_client()).enqueue(
        func, *args, job_timeout=60, retry=Retry(max=3, interval=[10, 60, 300]), result_ttl=0,
        failure_ttl=7 * 86400)
