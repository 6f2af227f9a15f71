"""The worker: consumes posts in batches, calls the pure rules engine, produces alerts."""
