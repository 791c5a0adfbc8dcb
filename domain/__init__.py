"""Pure order-management domain: orders, fulfilment network, sourcing and time models."""
