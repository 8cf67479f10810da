"""The engine: strategy, risk, order management, journal, metrics; wires the layers."""
