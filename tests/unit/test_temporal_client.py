"""Temporal credentials: none for the dev server, an API key or mTLS files for Temporal Cloud."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from temporalio.client import Client
from temporalio.service import TLSConfig

from doms.settings import Settings
from doms.temporal_client import connect_options, connect_temporal

API_KEY = "not-a-real-key-4f9c"


@pytest.fixture(autouse=True)
def no_doms_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests build Settings from the environment: start from none of ours."""
    for name in os.environ:
        if name.startswith("DOMS_"):
            monkeypatch.delenv(name)


@pytest.fixture
def mtls_files(tmp_path: Path) -> dict[str, Path]:
    files = {
        "cert": tmp_path / "client.pem",
        "key": tmp_path / "client.key",
        "ca": tmp_path / "ca.pem",
    }
    for name, path in files.items():
        path.write_bytes(f"-----BEGIN {name.upper()}-----\n{name}\n".encode())
    return files


def test_defaults_connect_without_tls_or_api_key() -> None:
    settings = Settings()

    assert settings.temporal_uses_tls is False
    assert connect_options(settings) == {"api_key": None, "tls": False}


def test_an_api_key_is_passed_and_implies_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOMS_TEMPORAL_API_KEY", API_KEY)

    options = connect_options(Settings())

    assert options == {"api_key": API_KEY, "tls": True}


def test_the_api_key_stays_out_of_the_settings_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOMS_TEMPORAL_API_KEY", API_KEY)

    settings = Settings()

    assert API_KEY not in repr(settings)
    assert API_KEY not in str(settings.model_dump())


def test_tls_can_be_asked_for_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOMS_TEMPORAL_TLS", "true")

    assert connect_options(Settings()) == {"api_key": None, "tls": True}


def test_mtls_files_are_read_into_a_tls_config(
    monkeypatch: pytest.MonkeyPatch, mtls_files: dict[str, Path]
) -> None:
    monkeypatch.setenv("DOMS_TEMPORAL_TLS_CERT_FILE", str(mtls_files["cert"]))
    monkeypatch.setenv("DOMS_TEMPORAL_TLS_KEY_FILE", str(mtls_files["key"]))
    monkeypatch.setenv("DOMS_TEMPORAL_TLS_CA_FILE", str(mtls_files["ca"]))
    monkeypatch.setenv("DOMS_TEMPORAL_TLS_SERVER_NAME", "orders.a1b2c.tmprl.cloud")

    options = connect_options(Settings())

    assert options["api_key"] is None
    assert options["tls"] == TLSConfig(
        server_root_ca_cert=b"-----BEGIN CA-----\nca\n",
        domain="orders.a1b2c.tmprl.cloud",
        client_cert=b"-----BEGIN CERT-----\ncert\n",
        client_private_key=b"-----BEGIN KEY-----\nkey\n",
    )


def test_a_client_certificate_without_a_ca_verifies_with_the_system_roots(
    mtls_files: dict[str, Path],
) -> None:
    settings = Settings(
        temporal_tls_cert_file=mtls_files["cert"], temporal_tls_key_file=mtls_files["key"]
    )

    tls = connect_options(settings)["tls"]

    assert isinstance(tls, TLSConfig)
    assert tls.server_root_ca_cert is None
    assert tls.domain is None
    assert tls.client_cert == mtls_files["cert"].read_bytes()


@pytest.mark.parametrize("given", ["DOMS_TEMPORAL_TLS_CERT_FILE", "DOMS_TEMPORAL_TLS_KEY_FILE"])
def test_a_certificate_without_its_key_or_the_reverse_is_refused(
    monkeypatch: pytest.MonkeyPatch, mtls_files: dict[str, Path], given: str
) -> None:
    monkeypatch.setenv(given, str(mtls_files["cert"]))

    with pytest.raises(ValidationError) as refused:
        Settings()

    message = str(refused.value)
    assert "DOMS_TEMPORAL_TLS_CERT_FILE" in message
    assert "DOMS_TEMPORAL_TLS_KEY_FILE" in message


@pytest.mark.parametrize(
    ("missing", "setting"),
    [
        ("cert", "DOMS_TEMPORAL_TLS_CERT_FILE"),
        ("key", "DOMS_TEMPORAL_TLS_KEY_FILE"),
        ("ca", "DOMS_TEMPORAL_TLS_CA_FILE"),
    ],
)
def test_a_missing_file_is_named_with_its_setting(
    monkeypatch: pytest.MonkeyPatch, mtls_files: dict[str, Path], missing: str, setting: str
) -> None:
    monkeypatch.setenv("DOMS_TEMPORAL_TLS_CERT_FILE", str(mtls_files["cert"]))
    monkeypatch.setenv("DOMS_TEMPORAL_TLS_KEY_FILE", str(mtls_files["key"]))
    monkeypatch.setenv("DOMS_TEMPORAL_TLS_CA_FILE", str(mtls_files["ca"]))
    gone = mtls_files[missing]
    gone.unlink()

    with pytest.raises(SystemExit) as stopped:
        connect_options(Settings())

    reason = "No such file or directory"
    assert str(stopped.value) == f"{setting}={gone}: cannot read the file ({reason})"


def test_empty_variables_mean_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    # As docker compose passes `${DOMS_TEMPORAL_API_KEY:-}` when the key is not given.
    for name in (
        "DOMS_TEMPORAL_API_KEY",
        "DOMS_TEMPORAL_TLS_CERT_FILE",
        "DOMS_TEMPORAL_TLS_KEY_FILE",
        "DOMS_TEMPORAL_TLS_CA_FILE",
        "DOMS_TEMPORAL_TLS_SERVER_NAME",
    ):
        monkeypatch.setenv(name, "")

    assert connect_options(Settings()) == {"api_key": None, "tls": False}


async def test_connect_temporal_passes_address_namespace_credentials_and_extras(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []

    async def fake_connect(target_host: str, **kwargs: Any) -> Client:
        calls.append((target_host, kwargs))
        return object()  # type: ignore[return-value]

    monkeypatch.setattr(Client, "connect", fake_connect)
    settings = Settings(
        temporal_address="orders.a1b2c.tmprl.cloud:7233",
        temporal_namespace="orders.a1b2c",
        temporal_api_key=API_KEY,
    )

    await connect_temporal(settings, lazy=True)

    assert calls == [
        (
            "orders.a1b2c.tmprl.cloud:7233",
            {"namespace": "orders.a1b2c", "api_key": API_KEY, "tls": True, "lazy": True},
        )
    ]
