"""Matchers: pure functions and indexes that find features of a post."""
