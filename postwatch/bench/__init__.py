"""`postwatch bench`: throughput and latency of postwatch on the real broker."""
