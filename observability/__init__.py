"""Observability for every DOMS process: one log format now; OpenTelemetry traces and
metrics, the Temporal tracing interceptor and Prometheus exposure come in a later issue."""
