"""Coverage-guided fuzz harnesses (atheris); ``python -m fuzz.run`` fuzzes them all, bounded.

Each harness module holds ``test_one_input(data)``, which raises only when it found a defect
(an undocumented exception, or the C path disagreeing with the Python reference), and
``seeds()``, the real vectors its committed corpus (``fuzz/corpus/<harness>/``) starts from.
tests/test_fuzz_corpora.py replays every corpus without atheris on every test run.
"""

#: every harness, by module name (also its corpus folder's name)
HARNESSES = (
    "ws_protocol",
    "ws_handshake",
    "ws_reader",
    "mempool_tx",
    "config_loader",
    "feeds",
    "emulator_binance",
    "emulator_kraken",
    "emulator_coinbase",
)
