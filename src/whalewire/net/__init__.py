"""asyncio transports for ``whalewire.ws``: client, server, TLS, keepalive, reconnect."""
