"""Alembic revisions of the app database; run them with `doms migrate` or `alembic upgrade head`."""
