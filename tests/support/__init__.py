"""Helpers for tests: task handlers importable in spawned worker processes, and a pool harness."""
