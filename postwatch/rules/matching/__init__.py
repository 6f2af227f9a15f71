"""Matching: folding text, the compiled engine, its matchers and the hash banks."""
