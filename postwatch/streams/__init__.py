"""Thin faust wiring: topics, the app, and the agents that call the pure rules engine."""
