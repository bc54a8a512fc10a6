"""Data: where data sets come from, the npy cache, checks, and the split and scaling."""
