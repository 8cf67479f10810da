"""The emulated Coinbase Exchange: ``exchange`` (state and REST), ``feed`` (WebSocket feed
sessions), ``render`` (order bodies and feed messages) and ``server`` (the listeners)."""
