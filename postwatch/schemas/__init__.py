"""The JSON Schemas of the contracts (Post v1, Alert v1), shipped with the package."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

import fastjsonschema
import orjson

__all__ = ["SCHEMAS", "SchemaViolation", "schema_text", "validator"]

SCHEMAS = {"post": "post-v1.json", "alert": "alert-v1.json"}

SchemaViolation = fastjsonschema.JsonSchemaException


def schema_text(name: str) -> str:
    """The schema named `post` or `alert`, as published."""
    return resources.files(__package__).joinpath(SCHEMAS[name]).read_text(encoding="utf-8")


@cache
def validator(name: str) -> Callable[[Any], Any]:
    """A compiled validator for the named schema; raises `SchemaViolation` on bad data."""
    compiled: Callable[[Any], Any] = fastjsonschema.compile(orjson.loads(schema_text(name)))
    return compiled
