"""The rules library: load packs, compile them, evaluate posts. Pure: no Kafka, no I/O
beyond reading pack files.

    >>> from pathlib import Path
    >>> from postwatch.rules import Alert, Engine, load_packs, parse_post
    >>> engine = Engine(load_packs([Path("pack.yaml")]))          # doctest: +SKIP
    >>> for match in engine.evaluate(parse_post(raw_bytes)):      # doctest: +SKIP
    ...     print(Alert.of_match(match).alert_id)
"""

from postwatch.rules.alerts import Alert, alert_id
from postwatch.rules.language.errors import PackError, PackProblem, RulesError
from postwatch.rules.language.loader import load_pack, load_packs, parse_pack
from postwatch.rules.language.model import Match, Pack, Post, Rule, Severity, Status
from postwatch.rules.matching.engine import Engine
from postwatch.rules.posts import InvalidPost, parse_post, parse_posts, post_from_dict

__all__ = [
    "Alert",
    "Engine",
    "InvalidPost",
    "Match",
    "Pack",
    "PackError",
    "PackProblem",
    "Post",
    "Rule",
    "RulesError",
    "Severity",
    "Status",
    "alert_id",
    "load_pack",
    "load_packs",
    "parse_pack",
    "parse_post",
    "parse_posts",
    "post_from_dict",
]
