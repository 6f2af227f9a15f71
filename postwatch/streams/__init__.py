"""Thin faust wiring: topics, the app, and the agents that call the pure rules engine."""

__all__ = ["StreamsError"]


class StreamsError(Exception):
    """Root of the errors of the stream-processing wiring (faults, never bad records)."""
