"""The storage layer: SQLite, behind a store that keeps runs, their event logs and sweeps.

Owns what survives a restart and how it is written (batched, bounded, off the event loop).
May import drawing and model; never running or web.
"""
