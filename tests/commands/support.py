"""What the commands' tests share: each venue's paper configuration on its embedded exchange."""

from __future__ import annotations

from pathlib import Path

#: venue -> the symbol its paper route trades
VENUES = {"binance": "BTCUSDT", "kraken": "BTC/USD", "coinbase": "BTC-USD"}


def paper_config(venue: str, tmp_path: Path) -> str:
    """A paper configuration trading ``venue``'s symbol on its embedded exchange, small limits."""
    symbol = VENUES[venue]
    return f"""
[engine]
journal = "{tmp_path / "journal.db"}"
[control]
port = 0
kill_file = "{tmp_path / "kill"}"
[strategy.default_route]
venue = "{venue}"
symbol = "{symbol}"
[venues.{venue}]
[risk.symbols."{symbol}"]
max_order_qty = 0.01
max_order_notional = 2000
max_position = 0.05
max_daily_loss = 500
"""
