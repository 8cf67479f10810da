"""Exchange clients: signing, pre-built order templates, clock sync, rate limits, outcomes.

Knows nothing of whales or strategy: it places, cancels and reconciles orders.
"""
