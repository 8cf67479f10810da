"""RFC 6455 WebSocket protocol (with RFC 7692 permessage-deflate), sans-IO.

Bytes in, events out: nothing here imports asyncio or touches a socket; ``whalewire.net``
puts transports on top.
"""
