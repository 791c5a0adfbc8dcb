"""Temporal workflows: deterministic orchestration of an order's lifecycle, no I/O."""
