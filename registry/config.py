"""Settings: one pydantic-settings class, read from REGISTRY_* environment variables."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import re2  # google-re2
from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT_DIR = Path(__file__).resolve().parent.parent
"""The project folder (holds web/ and alembic/)."""

DEV_SECRET_FILE = "secret_key"
MIN_SECRET_LENGTH = 32


class ConfigError(RuntimeError):
    """Settings that cannot work; raised at start-up with a message for the operator."""


# Settings a production deployment of several processes or machines must set (the scaled
# topology of compose.yaml; tests/ops/test_compose.py checks it names each).
PRODUCTION: dict[str, Any] = {"required_in_production": True}


class Settings(BaseSettings):
    """Every setting of the service; each maps to the environment variable REGISTRY_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="REGISTRY_", env_file=None, extra="ignore")

    # Deployment: what this installation is and where it answers
    env: Literal["dev", "test", "production"] = Field(
        default="dev",
        description="Deployment mode. Outside 'dev' a secret key is required; demo is refused.",
    )
    base_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Public URL of the service, used to build links in emails and QR codes.",
        json_schema_extra=PRODUCTION,
    )
    var_dir: Path = Field(
        default=Path("var"),
        description="Folder for the embedded default's state (SQLite file, media, dev secret).",
    )
    timezone: str = Field(
        default="Europe/London",
        description="The organisation's time zone (IANA name): the default for new events, and "
        "the zone consent end dates are counted in. Staff pages show times in each browser's "
        "own zone; public pages show an event's times in the event's zone.",
    )

    # Database
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL. Default: a SQLite file under var_dir. PostgreSQL: postgresql://user:pw@host/db.",
        json_schema_extra=PRODUCTION,
    )
    db_pool_size: int = Field(default=10, ge=1, description="Connection pool size (PostgreSQL).")

    # Storage of media files
    media_dir: Path | None = Field(
        default=None,
        description="Folder for uploaded media and renditions. Default: var_dir/media.",
    )
    storage_url: str = Field(
        default="",
        description="Where media files live. Unset: the local media_dir. s3://bucket/prefix: an "
        "S3-compatible bucket reachable by every worker (credentials from the usual AWS_* "
        "variables).",
        json_schema_extra=PRODUCTION,
    )
    s3_endpoint_url: str = Field(
        default="",
        description="Endpoint of an S3-compatible service (MinIO, Ceph...); unset for AWS S3.",
    )
    s3_region: str = Field(default="", description="Region of the S3 bucket (optional).")

    # Jobs: the in-process pool, or a broker's Celery workers
    broker_url: str = Field(
        default="",
        description="Celery broker (Redis) URL, e.g. redis://redis:6379/0. Set: clearance and "
        "periodic jobs go to Celery workers (`registry worker`) and the web process runs no face "
        "detection. Unset: jobs run in the in-process worker pool of `registry serve`.",
        json_schema_extra=PRODUCTION,
    )
    workers: int = Field(
        default=0,
        ge=0,
        le=64,
        description="Clearance worker processes of the in-process pool (0 = one per CPU core).",
    )
    web_processes: int = Field(
        default=1,
        ge=1,
        le=64,
        description="How many web processes serve this installation on this machine (set by "
        "`registry serve --workers N`). Above 1 without a broker, one of them runs the "
        "clearance pool and the periodic jobs, and the others hand it their jobs.",
    )
    warm_workers: bool = Field(
        default=True,
        description="Start the in-process pool's worker processes (face models loaded) when "
        "`registry serve` starts, rather than on the first photo.",
    )
    job_lease_seconds: int = Field(
        default=30,
        ge=3,
        description="How long a worker holds a photo in `processing` without a heartbeat; a "
        "working job renews it every `heartbeat_seconds`, so when the lease runs out its worker "
        "is dead and the photo is taken up again.",
    )
    heartbeat_seconds: int = Field(
        default=10,
        ge=1,
        description="How often a working job renews its lease (keep it well under the lease).",
    )
    sweep_seconds: int = Field(
        default=15,
        ge=1,
        description="Seconds between sweeps that queue again photos whose lease ran out "
        "(run by `registry serve`'s pool, or by beat with a broker). A dead worker's photo is "
        "taken up again within the lease plus this.",
    )
    pending_resend_minutes: int = Field(
        default=15,
        ge=1,
        description="With a broker: a photo still waiting this long after upload (or after its "
        "last nudge) is sent to the workers again, in case its message was lost.",
    )
    broker_visibility_seconds: int = Field(
        default=3600,
        ge=60,
        description="With a broker: how long Redis waits before handing an unacknowledged "
        "message to another worker. Longer than any job; dead workers are found sooner by the "
        "lease and the sweep.",
    )
    housekeeping_hours: int = Field(
        default=24,
        ge=0,
        description="Hours between runs of the periodic jobs (biometric purge, consent expiry) "
        "in `registry serve`; 0 turns the in-process scheduler off.",
    )
    checkpoint_minutes: int = Field(
        default=60,
        ge=0,
        le=1440,
        description="Minutes between signed checkpoints of the audit chain written to the media "
        "storage, outside the database (0: only `registry audit checkpoint`).",
    )

    # Upload and request limits
    max_upload_mb: int = Field(
        default=25, ge=1, le=500, description="Largest accepted upload (one file), in megabytes."
    )
    max_video_mb: int = Field(
        default=2000, ge=1, le=20000, description="Largest accepted video (one file), in megabytes."
    )
    max_video_minutes: float = Field(
        default=30, gt=0, le=600, description="Longest accepted video, in minutes."
    )
    max_megapixels: int = Field(
        default=60,
        ge=1,
        le=400,
        description="Largest photo accepted for clearance, in megapixels (24 MP photos pass).",
    )
    max_request_mb: int = Field(
        default=2100,
        ge=1,
        le=25000,
        description="Largest request body on staff routes (several files at once), in megabytes; "
        "larger ones get 413 before they are read.",
    )
    max_form_kb: int = Field(
        default=64,
        ge=4,
        le=1024,
        description="Largest body of a public form (booking, lost link, consent, sign-in), in kB.",
    )

    # Vision: face matching and video analysis
    match_threshold: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="Face distance at or under which a face IS an attendee who opted out.",
    )
    review_threshold: float = Field(
        default=0.6,
        gt=0,
        le=1,
        description="Face distance at or under which a face MAY be one (sent to review). "
        "Privacy first: raise it to send more to people, never lower it below the match.",
    )
    caution_threshold: float = Field(
        default=0.64,
        gt=0,
        le=1,
        description="Face distance at or under which a face whose likeness cannot be verified "
        "well (turned away, partly covered) MAY be an attendee who opted out (sent to review).",
    )
    min_face_px: int = Field(
        default=40,
        ge=16,
        le=200,
        description="Narrower faces that match nobody are reported as too small to verify.",
    )
    video_sample_fps: float = Field(
        default=2.0,
        gt=0,
        le=30,
        description="Frames a second analysed in a video (plus the first frame of every shot).",
    )
    video_segment_seconds: float = Field(
        default=30,
        ge=2,
        le=3600,
        description="A video is analysed in parts of about this many seconds, each a separate job "
        "(several workers share a long video; a dead worker loses only its part).",
    )
    video_parallel: int = Field(
        default=8,
        ge=1,
        le=64,
        description="Most jobs one video's parts are handed to at once (each takes parts until "
        "none is left).",
    )

    # Security: keys, sign-in, rate limits, proxies
    secret_key: str = Field(
        default="",
        description="Signs tokens, sessions and CSRF tokens. Required outside dev (32+ chars).",
        repr=False,
        json_schema_extra=PRODUCTION,
    )
    biometric_key: str = Field(
        default="",
        description="32-byte base64url key encrypting face encodings at rest. Unset: derived "
        "from the secret key (set one to rotate them independently).",
        repr=False,
    )
    signing_key: str = Field(
        default="",
        description="Ed25519 private key (PEM, or a path to a PEM file) that signs clearance "
        "certificates; without one a key is derived from the secret key. Its public half is "
        "served at /.well-known/jwks.json.",
    )
    access_token_minutes: int = Field(
        default=60, ge=1, le=24 * 60, description="Lifetime of API bearer tokens, in minutes."
    )
    session_hours: int = Field(
        default=12, ge=1, le=24 * 14, description="Lifetime of a staff page session, in hours."
    )
    login_max_failures: int = Field(
        default=5,
        ge=1,
        description="Failed logins allowed per account or client address per login window.",
    )
    login_window_seconds: int = Field(
        default=900, ge=1, description="Window for counting failed logins, in seconds."
    )
    link_requests_per_address: int = Field(
        default=3,
        ge=1,
        description="Public link requests (lost-link form, booking an email already booked) "
        "mailed to one address per window.",
    )
    link_requests_per_network: int = Field(
        default=5,
        ge=1,
        description="Public link requests accepted from one client network (IPv4 /24, IPv6 "
        "/48) per window; more get 429.",
    )
    link_request_window_seconds: int = Field(
        default=3600, ge=1, description="The window of the two limits above."
    )
    trusted_proxies: str = Field(
        default="127.0.0.1",
        description="Comma-separated addresses or networks of reverse proxies whose word on the "
        "client is believed (X-Forwarded-For, else Forwarded, else X-Real-IP: the client "
        "network for rate limits and consent records); others' is ignored. A proxy must set "
        "the header it uses, not pass on the client's. A forwarded request never counts as "
        "'on this machine' for GET /metrics.",
    )

    # Publishing: channels, certificates, captions, webhooks
    channels: list[str] = Field(
        default=["public_social", "closed_network", "internal", "print"],
        description="Channels media may be published on (JSON list in the environment).",
    )
    certificate_days: int = Field(
        default=30,
        ge=1,
        le=366,
        description="Longest validity of a clearance certificate, in days (never past the "
        "earliest expiry of the consents it rests on).",
    )
    caption_hospital_number_pattern: str = Field(
        default=r"(?i)\b(?:MRN|hospital\s+(?:no|number)|hosp\.?\s+no|patient\s+(?:no|number|id)|"
        r"unit\s+(?:no|number)|case\s+(?:no|number))\b\.?\s*[:#]?\s*[A-Z]{0,3}\d{4,10}\b",
        description="A regular expression for the hospital (MRN) numbers a caption may not "
        "contain, e.g. your trust's own format such as `\\bRX\\d{7}\\b` (the default finds "
        "numbers labelled MRN, hospital, patient, unit or case number). RE2 syntax, matched in "
        "linear time: no look-around or back-references. Empty: none.",
    )
    webhook_allow_loopback: bool = Field(
        default=False,
        description="Development and tests only: webhook endpoints may be http://127.0.0.1… "
        "(never in production: private, loopback and link-local addresses are refused there).",
    )
    webhook_ports: list[int] = Field(
        default=[443],
        description="The ports a webhook endpoint may name (JSON list in the environment, e.g. "
        "[443, 8443]); an address without one means 443. Loopback endpoints allowed by "
        "webhook_allow_loopback may use any port.",
    )

    # Consent: the controller named on notices and receipts, and consent links
    controller_name: str = Field(
        default="",
        description="The PII controller named on consent notices, receipts and emails, until "
        "an admin sets the organisation's details on the dashboard (those win).",
    )
    controller_email: str = Field(
        default="", description="Privacy contact on notices and receipts (see controller_name)."
    )
    controller_phone: str = Field(
        default="",
        description="The organisation's own phone numbers (comma-separated; see controller_name): "
        "a caption may give them.",
    )
    controller_address: str = Field(
        default="", description="Postal address of the controller, shown on receipts."
    )
    privacy_policy_url: str = Field(
        default="", description="URL of the controller's privacy policy, shown on receipts."
    )
    jurisdiction: str = Field(
        default="GB", description="Jurisdiction (ISO 3166 code) named on consent receipts."
    )
    storage_location: str = Field(
        default="GB", description="Where records and media are stored, named on receipts."
    )
    consent_link_days: int = Field(
        default=30,
        ge=1,
        le=365,
        description="Days a patient's consent link works after it is issued or last used "
        "(it keeps working while the consent is granted, so it can always be revoked).",
    )

    # Mail and reminders
    smtp_url: str = Field(
        default="",
        description="Mail server: smtp://user:pass@host:587 (STARTTLS required) or "
        "smtps://host:465. Unset: messages are written to the server log with their links "
        "redacted, listed on the staff Outbox page, and public pages tell people to contact the "
        "organiser for their link.",
        json_schema_extra=PRODUCTION,
    )
    smtp_allow_plaintext: bool = Field(
        default=False,
        description="Send without TLS to a relay on this machine (127.0.0.1, ::1, localhost) "
        "that does not offer STARTTLS. Never allowed for a remote server.",
    )
    mail_from: str = Field(
        default="registry@localhost", description="Sender address of every email."
    )
    log_mail_bodies: bool = Field(
        default=False,
        description="With no mail server, write whole messages (links withheld) to the log "
        "instead of their kind, record and masked address. `serve --demo` turns it on so the "
        "demo's mail can be read; never on outside `dev` (the log is not erasable).",
    )
    notify_emails: list[str] = Field(
        default_factory=list,
        description="Who is told about takedowns (JSON list); unset: every active admin and "
        "comms user.",
    )
    event_reminder_days: int = Field(
        default=2,
        ge=0,
        le=60,
        description="Attendees are reminded of the filming notice and their choice this many "
        "days before the event (0: no reminder).",
    )
    consent_reminder_days: int = Field(
        default=14,
        ge=0,
        le=365,
        description="Patients are asked whether to renew a granted consent this many days "
        "before it ends (0: no reminder).",
    )

    # Retention: how long personal data is kept
    biometric_days_without_event: int = Field(
        default=30,
        ge=1,
        le=3650,
        description="Face encodings of photos and videos not from an event are deleted this many "
        "days after upload (an event's own retention applies to its photos).",
    )
    consent_record_years: int = Field(
        default=8,
        ge=1,
        description="Years a consent record is kept as proof after the consent ends.",
    )
    retention_booking_days: int = Field(
        default=365,
        ge=1,
        description="Days after an event ends that its bookings' names and addresses are kept; "
        "then they are erased (an opted-out booking stays as an anonymous marker that keeps "
        "its photos blocked).",
    )
    retention_event_media_days: int = Field(
        default=730,
        ge=1,
        description="Days after an event ends that its photos and videos (and their faces, "
        "renditions and files) are kept; media still published is kept until it comes down.",
    )
    retention_unpublished_days: int = Field(
        default=180,
        ge=1,
        description="Days an upload that was never published is kept after its upload or the "
        "last consent decision about it.",
    )
    retention_declined_consent_days: int = Field(
        default=365,
        ge=1,
        description="Days a consent request that was declined, or never answered, is kept after "
        "its last change (a consent that was granted is kept consent_record_years).",
    )
    retention_mail_days: int = Field(
        default=90,
        ge=1,
        description="Days a sent, bounced or dropped message's record (its kind, state and "
        "masked address), and a finished webhook delivery's log entry, is kept.",
    )

    # Logging and metrics
    log_level: str = Field(default="info", description="Log level of the server.")
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="`text` for a terminal; `json` writes one JSON object a line (time, level, "
        "logger, message, request id, route, status, duration, job id, media id).",
    )
    metrics_token: str = Field(
        default="",
        repr=False,
        description="A bearer token that may read GET /metrics (for Prometheus), besides an "
        "admin's token and clients on this machine. Empty: none.",
    )
    metrics_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="`registry worker` serves its own processes' metrics on this port "
        "(0: not served). The web app's GET /metrics shows the web processes' and the "
        "database's.",
    )

    @model_validator(mode="after")
    def _fill_defaults(self) -> Settings:
        if self.heartbeat_seconds * 2 > self.job_lease_seconds:
            raise ValueError("heartbeat_seconds must be at most half of job_lease_seconds")
        if self.review_threshold < self.match_threshold:
            raise ValueError("review_threshold must not be below match_threshold")
        if self.caution_threshold < self.review_threshold:
            raise ValueError("caution_threshold must not be below review_threshold")
        if not self.database_url:
            self.database_url = f"sqlite:///{(self.var_dir / 'registry.db').as_posix()}"
        self.database_url = normalise_database_url(self.database_url)
        if self.media_dir is None:
            self.media_dir = self.var_dir / "media"
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"timezone {self.timezone!r} is not an IANA time zone") from None
        if self.webhook_allow_loopback and self.env == "production":
            raise ValueError(
                "webhook_allow_loopback is for development and tests only, not production"
            )
        if problem := _not_linear(self.caption_hospital_number_pattern):
            raise ValueError(
                "caption_hospital_number_pattern is not a pattern RE2 can run (captions are "
                "matched in linear time: no look-ahead, look-behind or back-references; "
                f"repetitions up to {{1000}}): {problem}"
            )
        if self.storage_url and not self.storage_url.startswith("s3://"):
            raise ValueError("storage_url must be empty (local folder) or s3://bucket[/prefix]")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")

    def media_path(self) -> Path:
        assert self.media_dir is not None
        return self.media_dir

    def resolved_secret_key(self) -> str:
        """The signing secret; in dev one is generated once and kept under var_dir."""
        if self.secret_key:
            if self.env != "dev" and len(self.secret_key) < MIN_SECRET_LENGTH:
                raise ConfigError(
                    f"REGISTRY_SECRET_KEY is too short: use at least {MIN_SECRET_LENGTH} chars "
                    "(e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(48))')."
                )
            return self.secret_key
        if self.env != "dev":
            raise ConfigError(
                f"REGISTRY_SECRET_KEY must be set when REGISTRY_ENV={self.env} "
                "(e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(48))')."
            )
        path = self.var_dir / DEV_SECRET_FILE
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        self.secret_key = path.read_text().strip()
        return self.secret_key


def _not_linear(pattern: str) -> str:
    """Why RE2 cannot compile `pattern` ("" when it can): what meets user text runs in linear
    time, a trust's own hospital-number format included."""
    options = re2.Options()
    options.log_errors = False
    try:
        re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else "not a regular expression"
        return reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
    return ""


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whatever driver-less form the URL has."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings; tests clear the cache after changing the environment."""
    return Settings()


def required_in_production() -> list[str]:
    """The environment variables of the settings a production deployment must set."""
    return sorted(
        f"REGISTRY_{name.upper()}"
        for name, field in Settings.model_fields.items()
        if isinstance(field.json_schema_extra, dict)
        and field.json_schema_extra.get("required_in_production")
    )
