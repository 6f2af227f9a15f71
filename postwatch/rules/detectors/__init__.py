"""Detectors that look past single rules: content that reappears and accounts that look alike."""
