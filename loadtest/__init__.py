"""Load generation for DOMS: realistic order bodies (`orders`) and the Locust shopper
(`locustfile`). Locust patches the standard library with gevent when imported, so only
`locustfile` imports it, and nothing in the asyncio processes imports `locustfile`."""
