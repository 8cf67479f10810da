"""The chain learner: exchange wallets and customer deposit addresses learned from blocks.

Followers (``blockfiles``, ``rpc``) hand blocks in height order to the ``learner``, whose
heuristics (``heuristics``) label addresses with evidence, kept in a SQLite ``store``;
``live`` loads those labels into a detector's watch set. ``synth`` writes a synthetic economy
with its truth and ``score`` measures the learner against it. Imports ``mempool``, never
``engine``.
"""
