"""Observability for every DOMS process: one log format (logging.py), OpenTelemetry traces
configured by the standard OTEL_* variables (tracing.py, trace_context.py) and Prometheus
metrics (metrics.py). The collector, Prometheus and Grafana configs of the compose cluster
live beside them."""
