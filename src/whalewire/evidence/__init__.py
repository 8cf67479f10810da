"""Evidence before edge: record what the engine saw, replay it, backtest on it, study it.

``schema`` names the recorded tables, ``recorder`` writes them off the hot path, ``tap``
wires a recorder to a running engine, ``recording`` reads a recording back, ``synth``
makes recordings with a known answer, ``study`` is the event study and ``study_html`` its
report, ``backtest`` replays a recording through the engine against the emulator's
matching, and ``sweep`` runs many backtests over several processes.
"""
