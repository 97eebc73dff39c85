"""Machinery specific to some catalog entries (not part of the public surface)."""
