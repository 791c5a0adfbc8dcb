"""Placing orders: sourced, reserved and recorded in one unit of work, for the API and the
order workflow's activities alike (placing/service.py)."""
