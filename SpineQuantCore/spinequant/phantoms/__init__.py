"""Synthetic phantoms with known answers, built by the project (no downloads)."""
