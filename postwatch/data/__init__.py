"""Bundled data: the demo rule pack and sample posts."""
