"""Mempool feeds: bitcoind ZMQ, Bitcoin P2P, mempool.space WebSocket, replay file."""
