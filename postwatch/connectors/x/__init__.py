"""X: the API v2 filtered stream, for operators who hold API access."""

from postwatch.connectors.x.client import Pace, Rule, RuleFileError, read_rules
from postwatch.connectors.x.connector import XConnector

__all__ = ["Pace", "Rule", "RuleFileError", "XConnector", "read_rules"]
