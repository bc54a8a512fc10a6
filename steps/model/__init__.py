"""Model: the families, their layers, the builders and the search spaces."""
