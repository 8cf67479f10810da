"""A local exchange that speaks each venue's real wire protocol; the embedded default."""
