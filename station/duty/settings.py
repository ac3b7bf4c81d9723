"""Cloud-duty configuration: one pydantic-settings class, validated once at start."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from station.contracts import NODE_CREDENTIAL_PREFIX
from station.duty.alerting.deliveries import RetryPolicy
from station.duty.alerting.notifiers import ChannelSettings, SmsChannel, VoiceChannel
from station.duty.alerting.snapshots import parse_store_url
from station.i18n import DEFAULT_LANGUAGE, Language

PLACEHOLDER_SECRETS = frozenset(
    {"", "change-me", "change-me-please", "changeme", "secret", "password", "dev-token"}
)


class DutySettings(BaseSettings):
    """Settings of one cloud-duty replica, read from `UWS_*` environment variables."""

    model_config = SettingsConfigDict(env_prefix="UWS_", extra="forbid")

    environment: Literal["development", "production"] = Field(
        default="development", description="production refuses placeholder secrets."
    )
    database_url: str = Field(
        default="sqlite:///var/duty.sqlite",
        description="SQLAlchemy URL: SQLite for a pilot, postgresql+psycopg:// at scale.",
    )
    api_token: SecretStr = Field(
        default=SecretStr("dev-token"),
        description="Service bearer token with admin rights, for automation and the demo.",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="Bearer token of the Prometheus scraper: it opens `/metrics` and nothing "
        "else. None: only admins may read the metrics.",
    )
    admin_username: str = Field(
        default="admin", description="First admin, created at start when there are no users."
    )
    admin_password: SecretStr = Field(
        default=SecretStr("change-me-please"), description="Password of that first admin."
    )
    login_ttl_h: float = Field(default=12, gt=0, le=24 * 30, description="Login token lifetime.")
    login_max_failures: int = Field(
        default=5, ge=1, le=100, description="Wrong passwords in a row before a lockout."
    )
    login_lockout_s: float = Field(
        default=60, gt=0, le=3600, description="First lockout; each further one doubles."
    )
    login_lockout_max_s: float = Field(
        default=3600, gt=0, description="Longest lockout, however often it repeats."
    )
    key_file: str = Field(
        default="var/duty-keys.json",
        description="JSON key file (mode 0600): Ed25519 signing keys and phone-hash keys, "
        "current first. Made on first start in development; `station keys new` otherwise.",
    )
    signing_keys: SecretStr | None = Field(
        default=None,
        description="Ed25519 private keys, hex, comma-separated, current first (with "
        "UWS_PHONE_HASH_KEYS instead of the key file).",
    )
    phone_hash_keys: SecretStr | None = Field(
        default=None, description="Phone-hash HMAC keys, hex, comma-separated, current first."
    )
    member_credential_ttl_s: int = Field(
        default=3600, ge=60, le=7 * 24 * 3600, description="Default life of a member's page."
    )
    card_font: str = Field(
        default="/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
        description="A TrueType font with Chinese glyphs for printed member cards "
        "(Debian: fonts-wqy-microhei).",
    )
    enrolment_code_ttl_h: float = Field(
        default=24, gt=0, le=24 * 14, description="How long a node's enrolment code works."
    )
    face_filing_threshold: int = Field(
        default=100_000,
        ge=1,
        description="People whose faces are stored at which the 2025 face recognition measures "
        "require filing with the provincial cyberspace office (within 30 working days).",
    )
    face_filing_warn_share: float = Field(
        default=0.8,
        gt=0,
        le=1,
        description="Share of that threshold from which the dashboard warns, to file in time.",
    )
    console_url: str = Field(
        default="http://127.0.0.1:8000/", description="Public URL of the duty console."
    )
    group_language: Language = Field(
        default=DEFAULT_LANGUAGE,
        description="Language of robot posts (WeCom, DingTalk) a duty group reads together.",
    )
    mqtt_host: str = Field(default="127.0.0.1", description="Cloud broker host.")
    mqtt_port: int = Field(default=1883, ge=1, le=65535, description="Cloud broker port.")
    mqtt_username: str | None = Field(default=None, description="Broker user of cloud-duty.")
    mqtt_password: SecretStr | None = Field(default=None, description="Broker password.")
    mqtt_tls_ca_file: str | None = Field(default=None, description="CA file; enables TLS.")
    mqtt_client_id: str = Field(
        default="cloud-duty-1", description="Stable per replica, so its broker session persists."
    )
    share_group: str = Field(
        default="duty", pattern=r"^[A-Za-z0-9_-]+$", description="Shared subscription group."
    )
    ingest_batch_size: int = Field(
        default=500, ge=1, le=10_000, description="Most messages written in one transaction."
    )
    ingest_batch_wait_ms: float = Field(
        default=20, ge=0, le=1000, description="How long a batch waits to fill up."
    )
    heartbeat_interval_s: float = Field(
        default=30, gt=0, description="How often nodes send health."
    )
    missed_heartbeats: int = Field(
        default=3, ge=1, description="Missed heartbeats before a node counts as offline."
    )
    liveness_check_s: float = Field(
        default=10, gt=0, description="How often the offline check runs."
    )
    camera_silent_s: float = Field(
        default=60, gt=0, description="A camera without a frame this long raises a fleet alert."
    )
    inference_budget_ms: float = Field(
        default=1000,
        gt=0,
        description="A node whose mean model call takes longer raises a fleet alert.",
    )
    disk_full_percent: float = Field(
        default=95, gt=0, le=100, description="A node's data disk this full raises a fleet alert."
    )
    deadman_silence_min: float = Field(
        default=10,
        gt=0,
        description="Page the operators when this replica's ingest has heard nothing this "
        "many minutes while nodes are registered.",
    )
    deadman_check_s: float = Field(
        default=60, gt=0, description="How often the dead-man's switch looks."
    )
    feed_poll_s: float = Field(
        default=1.0, gt=0, description="Feed poll for changes made by other replicas."
    )
    unknown_node_cache_s: float = Field(
        default=10, ge=0, description="How long an unknown node id stays refused unchecked."
    )
    snapshot_dir: str = Field(
        default="var/snapshots", description="Where event JPEGs are kept in the folder storage."
    )
    snapshot_storage: Literal["auto", "database", "folder", "s3"] = Field(
        default="auto",
        description="Where event JPEGs go: the database (every replica reads them), a local "
        "folder, an S3-compatible store (UWS_SNAPSHOT_STORE_URL), or auto: the store when "
        "its URL is set, else the database unless it is SQLite.",
    )
    snapshot_store_url: str | None = Field(
        default=None,
        description="s3://bucket/prefix of an S3-compatible object store (AWS S3, MinIO, "
        "Aliyun OSS) every replica shares; credentials go in the settings below.",
    )
    snapshot_store_endpoint_url: str | None = Field(
        default=None,
        pattern=r"^https?://",
        description="HTTP(S) endpoint of the store, e.g. http://minio:9000; None: AWS S3.",
    )
    snapshot_store_region: str | None = Field(
        default=None, description="Region of the bucket (us-east-1 for most other stores)."
    )
    snapshot_store_access_key_id: str | None = Field(
        default=None,
        description="Access key id; None: boto3's own chain (AWS_* variables, instance role).",
    )
    snapshot_store_secret_access_key: SecretStr | None = Field(
        default=None, description="Secret access key belonging to that key id."
    )
    snapshot_store_addressing_style: Literal["auto", "path", "virtual"] = Field(
        default="auto",
        description="Bucket in the path (MinIO, Ceph) or in the host name (Aliyun OSS).",
    )
    snapshot_store_timeout_s: float = Field(
        default=10, gt=0, le=120, description="Connect and read timeout of one store call."
    )
    snapshot_retention_days: float = Field(
        default=30, gt=0, description="Snapshots are deleted after this many days."
    )
    visit_retention_days: float = Field(
        default=90, gt=0, description="Visit details are deleted after this many days."
    )
    record_retention_days: float = Field(
        default=180,
        gt=0,
        description="Resolved alerts, their events, feed entries and deliveries, and command "
        "records are deleted after this many days.",
    )
    audit_retention_days: float = Field(
        default=3 * 365,
        ge=365,
        description="Audit log lines are deleted after this many days: a year at least, and "
        "at least as long as visits and records are kept.",
    )
    reopen_window_s: float = Field(
        default=600, ge=0, description="A resolved alert firing again within this reopens."
    )
    notifiers: dict[str, ChannelSettings] = Field(
        default_factory=dict,
        description="Named channels (WeCom/DingTalk robots, SMS) that escalation pages through.",
    )
    page_confirm_s: float = Field(
        default=120,
        gt=0,
        le=3600,
        description="A text or call without a delivery receipt this long fails over to the "
        "next channel (voice after SMS), then to the next person.",
    )
    provider_callback_secret: SecretStr | None = Field(
        default=None,
        description="Secret the SMS/voice providers' receipt and reply callbacks carry "
        "(`?key=` in the callback URL set at the provider); callbacks are refused without it.",
    )
    delivery_retry: RetryPolicy = Field(
        default_factory=RetryPolicy, description="Attempts and backoff per notice."
    )
    start_ingest: bool = Field(default=True, description="Consume MQTT in this process.")
    start_scheduler: bool = Field(default=True, description="Run scheduled jobs here.")

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> DutySettings:
        if self.api_token.get_secret_value().startswith(NODE_CREDENTIAL_PREFIX):
            raise ValueError("UWS_API_TOKEN looks like a node credential; use a service secret")
        scrape = self.metrics_token.get_secret_value() if self.metrics_token else None
        if scrape is not None and scrape == self.api_token.get_secret_value():
            raise ValueError("UWS_METRICS_TOKEN must differ from UWS_API_TOKEN (an admin's)")
        if self.environment == "production":
            if self.api_token.get_secret_value() in PLACEHOLDER_SECRETS:
                raise ValueError("UWS_API_TOKEN is a placeholder; set a real secret")
            if scrape is not None and scrape in PLACEHOLDER_SECRETS:
                raise ValueError("UWS_METRICS_TOKEN is a placeholder; set a real secret")
            if self.admin_password.get_secret_value() in PLACEHOLDER_SECRETS:
                raise ValueError("UWS_ADMIN_PASSWORD is a placeholder; set a real password")
            self._refuse_placeholder_provider_keys()
            if self.database_url.startswith("sqlite"):
                raise ValueError("production needs UWS_DATABASE_URL pointing at PostgreSQL")
        return self

    @field_validator("snapshot_store_url")
    @classmethod
    def _store_url_names_a_bucket(cls, url: str | None) -> str | None:
        if url is not None:
            parse_store_url(url)  # raises a ValueError saying what is wrong
        return url

    @model_validator(mode="after")
    def _one_snapshot_storage(self) -> DutySettings:
        has_url = self.snapshot_store_url is not None
        if self.snapshot_storage == "s3" and not has_url:
            raise ValueError("UWS_SNAPSHOT_STORAGE=s3 needs UWS_SNAPSHOT_STORE_URL=s3://bucket/...")
        if has_url and self.snapshot_storage in ("database", "folder"):
            raise ValueError(
                f"UWS_SNAPSHOT_STORE_URL is set but UWS_SNAPSHOT_STORAGE is "
                f"{self.snapshot_storage}: unset one"
            )
        if (self.snapshot_store_access_key_id is None) != (
            self.snapshot_store_secret_access_key is None
        ):
            raise ValueError(
                "UWS_SNAPSHOT_STORE_ACCESS_KEY_ID and UWS_SNAPSHOT_STORE_SECRET_ACCESS_KEY "
                "go together"
            )
        return self

    @model_validator(mode="after")
    def _audit_outlives_what_it_records(self) -> DutySettings:
        if self.audit_retention_days < max(self.record_retention_days, self.visit_retention_days):
            raise ValueError(
                "UWS_AUDIT_RETENTION_DAYS must be at least UWS_RECORD_RETENTION_DAYS and "
                "UWS_VISIT_RETENTION_DAYS"
            )
        return self

    def _refuse_placeholder_provider_keys(self) -> None:
        for name, channel in self.notifiers.items():
            if (
                isinstance(channel, SmsChannel | VoiceChannel)
                and channel.provider != "logging"
                and channel.key_secret.get_secret_value() in PLACEHOLDER_SECRETS
            ):
                raise ValueError(f"notifier {name!r}: key_secret is a placeholder")
        store_secret = self.snapshot_store_secret_access_key
        if store_secret is not None and store_secret.get_secret_value() in PLACEHOLDER_SECRETS:
            raise ValueError("UWS_SNAPSHOT_STORE_SECRET_ACCESS_KEY is a placeholder")
        callback = self.provider_callback_secret
        if callback is not None and callback.get_secret_value() in PLACEHOLDER_SECRETS:
            raise ValueError("UWS_PROVIDER_CALLBACK_SECRET is a placeholder; set a real secret")
