"""Experiment recipes shared by the notebooks of one book part (one module per part)."""
