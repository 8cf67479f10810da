"""Mutation testing of whalewire's money paths: mutants of each module, its own tests, a gate.

``python -m mutation --ci`` is what CI runs; ``docs/topics/mutation.md`` says how to read
and extend it.
"""
