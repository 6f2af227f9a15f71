"""postwatch: streaming content monitoring on Kafka."""

__version__ = "0.1.0"
