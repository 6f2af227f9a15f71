"""Settings: built once at start-up from `POSTWATCH_*` environment variables and an optional
TOML file, frozen, and passed down. Nothing else in postwatch reads the environment.

The file is named by `POSTWATCH_CONFIG`; its keys are the variable names without the prefix,
in lower case (`kafka_bootstrap = "broker:9092"`). Environment variables win over the file.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_BOOTSTRAP", "Settings", "SettingsError"]

DEFAULT_BOOTSTRAP = "127.0.0.1:9092"
_PREFIX = "POSTWATCH_"


class SettingsError(Exception):
    """A setting has a value that cannot be used; the message names the setting."""


@dataclass(frozen=True, slots=True)
class Settings:
    kafka_bootstrap: str = DEFAULT_BOOTSTRAP
    """Kafka bootstrap servers, comma separated."""
    topic_prefix: str = "postwatch"
    """Every topic name starts with this and a dot: `postwatch.posts`, `postwatch.alerts`."""
    rules: tuple[Path, ...] = ()
    """Rule pack files the worker loads (`POSTWATCH_RULES`: paths separated by `:` or `,`)."""
    posts_partitions: int = 4
    """Partitions of the posts topic when postwatch creates it."""
    worker_group: str = ""
    """Consumer group of the workers; empty means `<topic_prefix>-worker`."""
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: str | None = field(default=None, repr=False)
    kafka_ssl_cafile: str | None = None
    log_level: str = "info"
    suppress_window_s: float = 0.0
    """Seconds during which repeats of an alert (same rule, author and content) are collapsed
    into it and counted; a summary alert follows when the window closes. 0 (the default, so
    that every match is an alert unless asked otherwise) turns it off; 300 suits a live feed."""
    ocsf_enabled: bool = False
    """Also produce each alert as an OCSF Detection Finding to `<prefix>.alerts.ocsf`."""
    metrics_port: int = 9464
    """Port of the worker's Prometheus `/metrics` endpoint; 0 turns it off."""
    metrics_host: str = "0.0.0.0"  # noqa: S104 - Prometheus scrapes workers from another host
    """Address the `/metrics` endpoint listens on."""
    alerts_users: str = ""
    """The users file of the review console (`postwatch alerts serve`): names, roles and
    hashed tokens, written by `postwatch alerts users add` (see docs/review.md)."""
    alerts_proxy_user_header: str = ""
    """The header in which a single sign-on proxy in front of the review console names its
    user (`X-Forwarded-User`, `X-Forwarded-Email`); empty (the default): no proxy is
    believed. Set it only when the console can be reached through that proxy alone."""
    alerts_proxy_role: str = ""
    """The role of a user the proxy names who is not in the users file (`viewer`,
    `reviewer`, `admin`); empty (the default): such a user is refused."""
    forward_to: tuple[str, ...] = field(default=(), repr=False)  # webhook URLs hold secrets
    """Destinations of `postwatch alerts forward`, `KIND:MIN_SEVERITY:URL` separated by spaces."""
    learn_severity: str = "high"
    """`learn: true` rules teach their posts' fingerprints when they fire at this severity or
    above."""
    reappearance_threshold: float = 0.4
    """Estimated Jaccard similarity of folded word bigrams at which a text reappears (0.4: no
    unrelated pair of the Davidson tweets reaches it; see benchmarks/mirror_bench.py)."""
    reappearance_containment: float = 0.4
    """Share of either text's word bigrams found in the other (which must share a passage of
    five words) at which a text reappears as a quote, a part, or a whole inside a longer post
    (see benchmarks/mirror_bench.py)."""
    embedding_model: str = ""
    """Sentence-embedding model of semantic reappearance (paraphrases, translations): a
    folder with `weights.npz` and `sp.model` of USE multilingual v3, or `bundled` for the one
    the `semantic` extra installs; empty (the default): off."""
    embedding_threshold: float = 0.7
    """Cosine similarity at which a text is a paraphrase or translation of a learned one (0.7:
    no unrelated pair of 999,000 English-Arabic sentence pairs reaches it; see
    benchmarks/semantic_bench.py)."""
    escalation_count: int = 0
    """An author with this many alerts within `escalation_window_s` raises an escalation; 0 (the
    default): off."""
    escalation_window_s: float = 3600.0
    campaign_authors: int = 3
    """This many distinct authors re-posting one original within `campaign_window_s` raise a
    `campaign` alert; 0: off."""
    campaign_window_s: float = 3600.0
    successor_reappearances: int = 3
    """An author re-posting this many of one account's posts within `successor_window_s`
    raises a `successor` alert naming that account; 0: off."""
    successor_with_lookalike: int = 1
    """Reappearances of an account's posts that an author whose name looks like the
    account's needs to be taken for its successor (0: the look-alike alone)."""
    successor_window_s: float = 7 * 86400.0
    quiet_after_s: float = 86400.0
    """A sign of succession (`went_quiet`): an account had posted nothing learned for at least
    this long when an author re-posting its content or imitating its name posted..."""
    quiet_within_s: float = 7 * 86400.0
    """... and for at most this long (`postwatch.rules.detectors.succession`)."""
    correlate_store: str = "memory://"
    """Where `postwatch correlate` keeps its tables between restores from their changelogs:
    `memory://`, or `rocksdb://` where faust-streaming's rocksdb extra is installed."""
    correlate_dir: str = ""
    """Folder where `postwatch correlate` keeps its local data (its tables, with `rocksdb://`),
    in a folder `<topic_prefix>-correlate` of its own; empty: a temporary folder, removed when
    it stops. Read from the environment, it defaults to the user's state folder
    (`$XDG_STATE_HOME/postwatch/correlate`, else `~/.local/state/postwatch/correlate`)."""
    enrich: bool = False
    """Media enrichment: connectors produce to `<prefix>.posts.raw`, and `postwatch enrich`
    fetches each post's images (hashes, local features, text in them) and produces it to the
    posts topic. Off (the default): connectors produce to the posts topic."""
    ocr_languages: tuple[str, ...] = ("eng", "urd", "ara")  # media.ocr.LANGUAGES
    """Languages whose text is read in the images of posts, Tesseract's names separated by
    spaces (`eng urd ara`, the default; each needs its data: Debian's `tesseract-ocr-urd`...);
    empty: no text is read."""
    published_by: str = ""
    """Who `postwatch rules publish` names as the publisher of a pack (default: the OS user)."""
    flood_alerts_per_minute: int = 1000
    """A rule raising more alerts than this within a minute on one worker is switched to
    shadow on every worker (its alerts go on, marked `shadow: true`) and raises one
    `rule_flood` alert, until `postwatch rules restore`; 0 turns the flood guard off."""
    flood_limits: tuple[tuple[str, int], ...] = ()
    """Limits of their own for some rules or packs, `ID=N` separated by spaces (a rule id or
    a pack id; a rule's wins over its pack's; 0: never shadowed by the guard)."""
    cache_dir: str = ""
    """Folder where compiled packs are kept between runs, so that a pack compiled before
    starts at once; empty: none. Read from the environment, it defaults to the user's cache
    (`$XDG_CACHE_HOME/postwatch`, else `~/.cache/postwatch`); `POSTWATCH_CACHE_DIR=` (empty)
    turns it off."""
    store_path: str = ""
    """File of the alert store (`postwatch alerts search`, `rules stats`, `cases export`, the
    review console), an SQLite database rebuilt from the alerts and decisions topics at each
    start (whatever the file held is dropped); empty (the default): in memory. A file keeps
    memory low for millions of alerts (see docs/performance.md)."""

    def topic(self, name: str) -> str:
        """The full name of one of postwatch's topics (`posts`, `alerts`, `deadletter`, ...)."""
        return f"{self.topic_prefix}.{name}"

    @property
    def group(self) -> str:
        return self.worker_group or f"{self.topic_prefix}-worker"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from a mapping shaped like `os.environ` (the real one when None)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        config = env.get(_PREFIX + "CONFIG")
        if config:
            values.update(_config_file(config))
        values.setdefault("cache_dir", str(_user_folder(env, "XDG_CACHE_HOME", ".cache")))
        state = _user_folder(env, "XDG_STATE_HOME", ".local/state")
        values.setdefault("correlate_dir", str(state / "correlate"))
        for spec in fields(cls):
            raw = env.get(_PREFIX + spec.name.upper())
            if raw is not None:
                values[spec.name] = raw
        known = {spec.name for spec in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise SettingsError(f"unknown settings in {config}: {', '.join(unknown)}")
        return cls(**{name: _convert(name, value) for name, value in values.items()})

    def kafka_client_options(self) -> dict[str, Any]:
        """Connection options shared by every aiokafka client postwatch creates."""
        options: dict[str, Any] = {
            "bootstrap_servers": self.kafka_bootstrap,
            "security_protocol": self.kafka_security_protocol,
        }
        if self.kafka_sasl_mechanism:
            options["sasl_mechanism"] = self.kafka_sasl_mechanism
            options["sasl_plain_username"] = self.kafka_sasl_username
            options["sasl_plain_password"] = self.kafka_sasl_password
        if self.kafka_ssl_cafile:
            import ssl  # noqa: PLC0415 - only TLS deployments pay for it

            options["ssl_context"] = ssl.create_default_context(cafile=self.kafka_ssl_cafile)
        return options


def _user_folder(env: Mapping[str, str], xdg: str, fallback: str) -> Path:
    """postwatch's folder in the user's folder of a kind: `$XDG_…/postwatch` where the XDG
    variable is set, else `~/<fallback>/postwatch`."""
    return Path(env.get(xdg) or Path(env.get("HOME") or "/nonexistent") / fallback) / "postwatch"


_CONFIG_MAX_BYTES = 1 << 20
"""The largest settings file read: far more than every setting takes."""


def _config_file(config: str) -> dict[str, Any]:
    """The settings of the TOML file `config`; SettingsError for one that cannot be read,
    is too large, or is no TOML in UTF-8."""
    try:
        with Path(config).open("rb") as file:
            data = file.read(_CONFIG_MAX_BYTES + 1)
        if len(data) > _CONFIG_MAX_BYTES:
            raise SettingsError(f"POSTWATCH_CONFIG={config}: larger than {_CONFIG_MAX_BYTES} bytes")
        return tomllib.loads(data.decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"POSTWATCH_CONFIG={config}: {exc}") from exc


def _convert(name: str, value: Any) -> Any:
    if name == "rules":
        parts = value if isinstance(value, list) else str(value).replace(",", ":").split(":")
        return tuple(Path(str(p)) for p in parts if str(p).strip())
    if name == "log_level" and str(value).lower() not in _LOG_LEVELS:
        allowed = ", ".join(_LOG_LEVELS)
        raise SettingsError(f"POSTWATCH_LOG_LEVEL must be one of {allowed}: {value!r}")
    if name in _PARSERS:
        return _PARSERS[name](name, value)
    if not isinstance(value, str):
        raise SettingsError(f"POSTWATCH_{name.upper()} must be a string: {value!r}")
    if name == "topic_prefix" and not re.fullmatch(r"[A-Za-z0-9._-]+", value):
        raise SettingsError(f"POSTWATCH_TOPIC_PREFIX may hold letters, digits, . _ -: {value!r}")
    return value


_WHOLE_NUMBERS = frozenset(
    {
        "metrics_port",
        "posts_partitions",
        "escalation_count",
        "campaign_authors",
        "successor_reappearances",
        "successor_with_lookalike",
        "flood_alerts_per_minute",
    }
)

LONGEST_WINDOW_S = 366 * 86400.0
"""The longest window a setting or a pack may give, in seconds: a year (times past a window
much longer would leave the calendar)."""
_LARGEST = 1e9
_RANGES = {
    "metrics_port": (0, 65535),
    "posts_partitions": (1, 10_000),
    "reappearance_threshold": (0, 1),
    "reappearance_containment": (0, 1),
    "embedding_threshold": (0, 1),
}
"""Numbers whose range is not 0 to `_LARGEST` (or, for seconds, to `LONGEST_WINDOW_S`)."""
_POSITIVE = frozenset({"campaign_window_s", "successor_window_s"})
"""Numbers that must be more than their lowest value (the others may be it)."""

_LOG_LEVELS = ("debug", "info", "warning", "error", "critical")

_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def _number(name: str, value: Any) -> int | float:
    whole = name in _WHOLE_NUMBERS
    try:
        # neither a TOML boolean nor, for a whole number, a fraction int() would cut
        refused = isinstance(value, bool) or (whole and isinstance(value, float) and value % 1)
        number = -1 if refused else (int if whole else float)(value)
    except (TypeError, ValueError, OverflowError):  # int() of an infinity overflows
        number = -1
    low, high = _RANGES.get(name, (0, _LARGEST))
    if name.endswith("_s"):
        high = LONGEST_WINDOW_S
    if not (low < number if name in _POSITIVE else low <= number) or not number <= high:
        relation = ">" if name in _POSITIVE else ">="
        raise SettingsError(
            f"POSTWATCH_{name.upper()} must be a number {relation} {low:g} and <= {high:.15g}: "
            f"{value!r}"
        )
    return number


def _boolean(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if str(value).lower() not in _BOOLEANS:
        raise SettingsError(f"POSTWATCH_{name.upper()} must be true or false: {value!r}")
    return _BOOLEANS[str(value).lower()]


def _severity(name: str, value: Any) -> str:
    levels = ("info", "low", "medium", "high", "critical")
    if str(value).lower() not in levels:
        allowed = ", ".join(levels)
        raise SettingsError(f"POSTWATCH_{name.upper()} must be one of {allowed}: {value!r}")
    return str(value).lower()


def _limits(name: str, value: Any) -> tuple[tuple[str, int], ...]:
    limits = []
    for word in _words(name, value):
        key, _, number = word.partition("=")
        if not key or not (number.isascii() and number.isdigit()):
            raise SettingsError(
                f"POSTWATCH_{name.upper()} holds ID=N (a rule or pack id, a whole number), "
                f"separated by spaces: {word!r}"
            )
        limits.append((key, int(number)))
    return tuple(limits)


def _role(name: str, value: Any) -> str:
    roles = ("viewer", "reviewer", "admin")  # alerts.users.ROLES
    if str(value) and str(value) not in roles:
        raise SettingsError(
            f"POSTWATCH_{name.upper()} must be one of {', '.join(roles)}: {value!r}"
        )
    return str(value)


def _words(name: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(value.split())
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    # not the value: forward_to's URLs hold secrets
    raise SettingsError(f"POSTWATCH_{name.upper()} must be words or a list of strings")


_PARSERS: dict[str, Callable[[str, Any], Any]] = {
    "suppress_window_s": _number,
    "metrics_port": _number,
    "posts_partitions": _number,
    "reappearance_threshold": _number,
    "reappearance_containment": _number,
    "embedding_threshold": _number,
    "escalation_count": _number,
    "escalation_window_s": _number,
    "campaign_authors": _number,
    "campaign_window_s": _number,
    "successor_reappearances": _number,
    "successor_with_lookalike": _number,
    "successor_window_s": _number,
    "quiet_after_s": _number,
    "quiet_within_s": _number,
    "flood_alerts_per_minute": _number,
    "flood_limits": _limits,
    "learn_severity": _severity,
    "alerts_proxy_role": _role,
    "ocsf_enabled": _boolean,
    "enrich": _boolean,
    "forward_to": _words,
    "ocr_languages": _words,
}
