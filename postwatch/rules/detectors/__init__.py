"""Detectors that look past single rules: content that reappears and accounts that look alike.

One module a check (`learning`, `reappearance`, `lookalike`, `escalation`); `mirror.Tracker`
runs them over each post, with its `MirrorConfig`."""
