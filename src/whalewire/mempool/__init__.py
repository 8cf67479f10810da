"""Mempool monitoring: feeds, transaction parser, address codecs, whale detection.

Turns raw transactions into ``WhaleAlert``s; knows nothing of orders.
"""
