"""The I/O steps of an order's lifecycle, called by workflows/ as Temporal activities."""
