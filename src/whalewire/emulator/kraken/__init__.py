"""The emulated Kraken Spot API: ``exchange`` (state, REST and WebSocket v2 sessions),
``render`` (message bodies) and ``server`` (the WebSocket and REST listeners)."""
