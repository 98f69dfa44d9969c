"""Simulators that generate the book's synthetic data (seeded, deterministic)."""
