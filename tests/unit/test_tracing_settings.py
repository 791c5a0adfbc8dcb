"""Tracing is configured by the standard OTEL_* variables alone, and is nothing when unset."""

from __future__ import annotations

import os

import pytest
from opentelemetry import trace
from opentelemetry.sdk import resources
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import format_span_id, format_trace_id

from observability.trace_context import continued, current_trace_id, current_traceparent
from observability.tracing import (
    configure_tracing,
    service_resource,
    tracer_provider_from_env,
    tracing_requested,
)


@pytest.fixture
def no_otel_settings(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in os.environ:
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)
    return monkeypatch


def test_with_no_otel_variables_no_sdk_provider_is_installed(
    no_otel_settings: pytest.MonkeyPatch,
) -> None:
    assert configure_tracing("doms-test") is None
    assert not isinstance(trace.get_tracer_provider(), TracerProvider)


@pytest.mark.parametrize(
    ("environ", "requested"),
    [
        ({}, False),
        ({"OTEL_SERVICE_NAME": "doms-api", "OTEL_TRACES_SAMPLER": "always_on"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_TRACES_EXPORTER": "console,otlp"}, True),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, False),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, False),
    ],
)
def test_an_otlp_exporter_is_what_turns_tracing_on(
    environ: dict[str, str], requested: bool
) -> None:
    assert tracing_requested(environ) is requested


def test_an_endpoint_gives_a_provider_named_by_otel_service_name(
    no_otel_settings: pytest.MonkeyPatch,
) -> None:
    no_otel_settings.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
    no_otel_settings.setenv("OTEL_SERVICE_NAME", "doms-api-2")

    provider = tracer_provider_from_env("doms-api")

    assert provider is not None
    assert provider.resource.attributes["service.name"] == "doms-api-2"
    provider.shutdown()


def test_the_resource_is_the_sdks_own_hashed_without_serialising_it_again(
    no_otel_settings: pytest.MonkeyPatch,
) -> None:
    no_otel_settings.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=bench")
    resource = service_resource("doms-worker")
    same = Resource(resource.attributes, resource.schema_url)

    def no_serialising(*args: object, **kwargs: object) -> str:
        raise AssertionError("the resource was serialised to be hashed")

    expected = hash(same)  # the SDK's own hash, from its attributes serialised
    no_otel_settings.setattr(resources, "dumps", no_serialising)  # as the encoder hashes it
    assert hash(resource) == expected
    assert resource == same
    assert resource.attributes["service.name"] == "doms-worker"
    assert resource.attributes["deployment.environment"] == "bench"
    assert resource.attributes["telemetry.sdk.language"] == "python"


def test_an_exporter_protocol_other_than_http_protobuf_is_refused(
    no_otel_settings: pytest.MonkeyPatch,
) -> None:
    no_otel_settings.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317")
    no_otel_settings.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")

    with pytest.raises(SystemExit, match="http/protobuf"):
        tracer_provider_from_env("doms-worker")


def test_outside_any_span_there_is_no_trace_to_keep() -> None:
    assert current_traceparent() is None
    assert current_trace_id() is None


def test_a_stored_traceparent_continues_its_trace() -> None:
    tracer = TracerProvider().get_tracer(__name__)
    with tracer.start_as_current_span("POST /orders") as request:
        traceparent = current_traceparent()
        trace_id = current_trace_id()
    context = request.get_span_context()

    with continued(traceparent), tracer.start_as_current_span("StartWorkflow:Order") as start:
        assert current_trace_id() == trace_id

    assert traceparent is not None
    version, trace_hex, span_hex, flags = traceparent.split("-")
    assert (version, trace_hex, span_hex) == (
        "00",
        format_trace_id(context.trace_id),
        format_span_id(context.span_id),
    )
    assert int(flags, 16) & 1  # sampled
    assert trace_id == format_trace_id(context.trace_id)
    assert start.parent is not None and start.parent.span_id == context.span_id
    assert current_traceparent() is None  # the stored context is left behind
