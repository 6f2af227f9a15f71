"""Connectors: one package per source, turning its native events into Post v1 records."""
