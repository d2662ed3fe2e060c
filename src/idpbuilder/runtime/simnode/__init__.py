"""The simulated node (being written)."""
