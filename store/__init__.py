"""The app database: SQLAlchemy models, engine setup, migrations runner, repositories."""
