"""One module per lesson group; `registry.ENTRY_POINTS` maps entry-point names to them."""
