"""How every DOMS process connects to Temporal: plain to the dev server, TLS / mTLS / API key
to Temporal Cloud or any secured Temporal (see DEPLOYMENT.md, "Temporal Cloud")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.service import TLSConfig

from doms.settings import Settings


def connect_options(settings: Settings) -> dict[str, Any]:
    """`Client.connect` keyword arguments for the credentials in the settings.

    Holds the API key in clear text: never log the result.
    """
    api_key = settings.temporal_api_key
    tls: bool | TLSConfig = settings.temporal_uses_tls
    if tls and (
        settings.temporal_tls_cert_file is not None
        or settings.temporal_tls_ca_file is not None
        or settings.temporal_tls_server_name is not None
    ):
        tls = TLSConfig(
            server_root_ca_cert=_read("DOMS_TEMPORAL_TLS_CA_FILE", settings.temporal_tls_ca_file),
            domain=settings.temporal_tls_server_name,
            client_cert=_read("DOMS_TEMPORAL_TLS_CERT_FILE", settings.temporal_tls_cert_file),
            client_private_key=_read("DOMS_TEMPORAL_TLS_KEY_FILE", settings.temporal_tls_key_file),
        )
    return {
        "api_key": api_key.get_secret_value() if api_key is not None else None,
        "tls": tls,
    }


async def connect_temporal(settings: Settings, **extra: Any) -> Client:
    """A client for the configured Temporal address and namespace, with its credentials."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        **connect_options(settings),
        **extra,
    )


def _read(setting: str, path: Path | None) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise SystemExit(f"{setting}={path}: cannot read the file ({reason})") from error
