"""Test helpers shared across test packages (no fixtures: those live in conftest files)."""
