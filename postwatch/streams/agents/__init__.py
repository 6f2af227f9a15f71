"""One stage per module: deserialise, call the pure engine, send."""
