"""The HTTP API: thin FastAPI routes over the order workflow and the store's read model."""
