"""Mempool feeds: bitcoind ZMQ, Bitcoin P2P, mempool.space WebSocket, replay file.

Every feed is an async iterator of the normalised events in ``events`` (``RawTxEvent``,
``BlockSeen``, ``FeedGap``); ``monitor.Monitor`` fans several in and deduplicates by txid.
Modules: ``events``, ``monitor``, ``replay``, ``bitcoind_zmq``, ``p2p`` + ``p2p_messages``,
``mempool_space``. Import the one you use: this package imports none of them, so that a feed's
optional dependency (pyzmq, websockets) is only needed when that feed runs. Feeds know nothing
of watch lists, alerts or orders.
"""
