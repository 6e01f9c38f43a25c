"""Weights: scanning and hashing local folders, DVC tracking, the remote and the local cache."""
