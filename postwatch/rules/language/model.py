"""The typed, frozen models the rules library works with: posts, rules, matches."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Literal, cast

import msgspec

from postwatch.settings import LONGEST_WINDOW_S

if TYPE_CHECKING:
    from collections.abc import Mapping

    from postwatch.rules.matching.banks import HashBank
    from postwatch.settings import Settings

__all__ = [
    "DEFAULT_FIELDS",
    "FIELDS",
    "SOURCE_ID_PATTERN",
    "Accounts",
    "AllOf",
    "AnyOf",
    "AtLeast",
    "Author",
    "Condition",
    "CorrelationConfig",
    "Domains",
    "Evidence",
    "Frame",
    "Hashes",
    "Keywords",
    "Leaf",
    "Match",
    "Media",
    "Not",
    "Post",
    "Regex",
    "Rule",
    "RuleTest",
    "Scope",
    "Severity",
    "SeverityLabel",
    "SourceId",
    "Status",
    "WatchedAccount",
    "matched_at",
]

FIELDS = ("text", "media.text", "hashtags", "links", "author.handle", "author.display_name")
"""The post fields that keyword and regex conditions can look at (`media.text`: the text
read in the post's images)."""
DEFAULT_FIELDS = ("text", "media.text")
"""What keyword and regex conditions look at unless they name their fields: the post's text
and the text in its images."""


class Severity(enum.IntEnum):
    """Rule severity; ordered so that thresholds compare with < and >=."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @property
    def label(self) -> SeverityLabel:
        return cast("SeverityLabel", self.name.lower())


SeverityLabel = Literal["info", "low", "medium", "high", "critical"]


class Status(enum.Enum):
    LIVE = "live"
    SHADOW = "shadow"
    DISABLED = "disabled"


# The post-v1 schema's constraints, which decoding checks (constructors do not)
SOURCE_ID_PATTERN = "^[a-z0-9_-]+:.+"
SourceId = Annotated[str, msgspec.Meta(min_length=3, pattern=SOURCE_ID_PATTERN)]
# \Z, not $: Python's $ also matches before a final newline, the schema's does not
_HEX64 = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-fA-F]{64}\Z")]
_HEX32 = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-fA-F]{32}\Z")]
_FEATURES = Annotated[
    str, msgspec.Meta(max_length=15_364, pattern=r"^[A-Za-z0-9+/]*={0,2}\Z")
]  # base64 of at most 320 keypoints (`postwatch.rules.matching.features`)


class Author(msgspec.Struct, frozen=True, gc=False):
    id: str  # a SourceId: `posts` checks it
    handle: str | None = None
    display_name: str | None = None


class Frame(msgspec.Struct, frozen=True, gc=False):
    """A keyframe of a video: its PDQ hash and quality, and its time in seconds."""

    pdq: _HEX64
    quality: Annotated[int, msgspec.Meta(ge=0, le=100)] = 100
    at: Annotated[float, msgspec.Meta(ge=0)] = 0.0


class Media(msgspec.Struct, frozen=True, gc=False):
    url: str | None = None
    kind: str | None = None
    sha256: _HEX64 | None = None
    md5: _HEX32 | None = None
    pdq: _HEX64 | None = None
    pdq_quality: Annotated[int, msgspec.Meta(ge=0, le=100)] | None = None
    pdq_mirror: _HEX64 | None = None
    features: _FEATURES | None = None
    features_mirror: _FEATURES | None = None
    text: Annotated[str, msgspec.Meta(max_length=4000)] | None = None
    error: Annotated[str, msgspec.Meta(max_length=64, pattern="^[a-z0-9_]+$")] | None = None
    frames: Annotated[tuple[Frame, ...], msgspec.Meta(max_length=64)] = ()

    def as_frames(self) -> list[tuple[str, Media]]:
        """Each keyframe of the video as media of its own (its PDQ and quality), with the
        suffix of its field (`.frames[3]`): what banks and learned images are searched for."""
        return [
            (f".frames[{j}]", Media(kind="frame", pdq=f.pdq, pdq_quality=f.quality))
            for j, f in enumerate(self.frames)
        ]


class Post(msgspec.Struct, frozen=True, gc=False):
    """A Post v1 record (see the post-v1 JSON Schema); unknown fields are not kept here.

    Post, Author and Media are frozen msgspec Structs rather than dataclasses: typed and
    immutable all the same, and decoded straight from a record in C (see `posts`). They
    hold only strings and one another, never a cycle, so the garbage collector does not
    track them (`gc=False`): tracked, a batch of them costs collections that take as long
    as decoding it. Times are kept as written (RFC 3339, checked); `created` and
    `observed` give them as datetimes.
    """

    schema: Literal["postwatch.post/1"]
    id: str
    source: str
    author: Author
    created_at: str
    text: str
    url: str | None = None
    observed_at: str | None = None
    lang: str | None = None
    links: tuple[str, ...] = ()
    hashtags: tuple[str, ...] = ()
    media: tuple[Media, ...] = ()
    reply_to: str | None = None
    repost_of: str | None = None

    @property
    def created(self) -> datetime:
        return datetime.fromisoformat(self.created_at)

    @property
    def observed(self) -> datetime | None:
        return datetime.fromisoformat(self.observed_at) if self.observed_at else None


MATCHED_MAX = 1_000
"""Characters of what a post holds that evidence quotes at most (a term is at most as long;
a regex may match a whole post, a link be a megabyte)."""


def matched_at(value: str, span: tuple[int, int]) -> str:
    """What `value` holds at `span`, as evidence quotes it: cut to MATCHED_MAX characters,
    the last of them '…', when longer (the span still says where all of it is)."""
    start, end = span
    if end - start <= MATCHED_MAX:
        return value[start:end]
    return value[start : start + MATCHED_MAX - 1] + "…"


class Evidence(msgspec.Struct, frozen=True, omit_defaults=True):
    """One piece of evidence, as an alert lists it: what matched, in which field, and where.

    `span` indexes into the original value of `field` (for `text`, the post's text as
    published), never into the folded form. The fields after `distance` are those of the
    detectors' evidence (see `postwatch.rules.detectors`); a field left at its default is
    left out of the alert.
    """

    type: str
    field: str
    value: str  # what the rule holds: the term, domain, account or hash as written there
    span: tuple[int, int] | None = None
    matched: str | None = None
    bank: str | None = None
    distance: int | None = None
    similarity: float | None = None
    containment: float | None = None
    inliers: int | None = None
    original_post_id: str | None = None
    original_author_id: str | None = None
    original_author_handle: str | msgspec.UnsetType | None = msgspec.UNSET
    original_alert_id: str | None = None
    relation: Literal["mirror", "repeat"] | None = None
    watched_account_id: str | None = None
    pack: str | None = None
    """The pack the account or content named belongs to: whose rule taught the learned
    original, whose watchlist lists the watched account (`CorrelationConfig` per pack)."""


@dataclass(frozen=True, slots=True)
class Keywords:
    """Whole-word phrases, matched on folded text; `terms` are as written in the rule.

    `fields` are names from FIELDS."""

    terms: tuple[str, ...]
    fields: tuple[str, ...] = DEFAULT_FIELDS


@dataclass(frozen=True, slots=True)
class Regex:
    """Linear-time regexes, matched on the clean form of the fields (see `normalize`)."""

    patterns: tuple[str, ...]
    fields: tuple[str, ...] = DEFAULT_FIELDS


@dataclass(frozen=True, slots=True)
class Hashes:
    """Any of the post's media matches the named bank of the named pack: an exact hash, or
    a PDQ hash within the bank's distance (see `postwatch.rules.matching.banks`)."""

    pack: str
    bank: str


@dataclass(frozen=True, slots=True)
class Accounts:
    """The post's `author.id` is one of these."""

    ids: frozenset[str]


@dataclass(frozen=True, slots=True)
class Domains:
    """A link of the post, or a URL written in its text (defanged ones included), is on one
    of these hosts or any of their subdomains."""

    domains: tuple[str, ...]


Leaf = Keywords | Regex | Hashes | Accounts | Domains


@dataclass(frozen=True, slots=True)
class AnyOf:
    children: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class AllOf:
    children: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Not:
    """Holds when the child does not; contributes no evidence."""

    child: Condition


@dataclass(frozen=True, slots=True)
class AtLeast:
    """Holds when at least `n` of the children hold."""

    n: int
    children: tuple[Condition, ...]


Condition = Keywords | Regex | Hashes | Accounts | Domains | AnyOf | AllOf | Not | AtLeast


@dataclass(frozen=True, slots=True)
class Scope:
    """Which posts a rule applies to; an empty set does not restrict.

    A post without `lang` is in every language scope: an unknown language is not a reason
    to miss it. Languages compare by their primary subtag (`en-GB` is `en`).
    """

    sources: frozenset[str] = frozenset()
    languages: frozenset[str] = frozenset()

    def covers(self, post: Post) -> bool:
        if self.sources and post.source not in self.sources:
            return False
        if self.languages and post.lang:
            return post.lang.split("-", 1)[0].lower() in self.languages
        return True


@dataclass(frozen=True, slots=True)
class RuleTest:
    """A post that the rule must match (`expect_match`) or must not, from the pack."""

    expect_match: bool
    post: Post
    line: int


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    title: str
    severity: Severity
    pack: str
    version: int
    match: Condition
    tags: tuple[str, ...] = ()
    status: Status = Status.LIVE
    source_file: str = ""
    line: int = 0
    exceptions: Condition | None = None
    scope: Scope = Scope()
    tests: tuple[RuleTest, ...] = ()
    learn: bool = False  # what it catches enters the learned fingerprints (see `mirror`)


@dataclass(frozen=True, slots=True)
class Match:
    """A rule that matched a post, with the evidence that made it match."""

    rule: Rule
    post: Post
    evidence: tuple[Evidence, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class Pack:
    """A loaded, validated rule pack."""

    id: str
    version: int
    source_file: str
    rules: tuple[Rule, ...]
    banks: dict[str, HashBank]
    accounts: tuple[WatchedAccount, ...] = ()  # the watchlists' entries, for look-alikes
    correlation: dict[str, float] = field(default_factory=dict)
    """The pack's own thresholds and windows of correlation (`CorrelationConfig` fields),
    for the campaigns and successions of its accounts and content."""


@dataclass(frozen=True, slots=True)
class WatchedAccount:
    """A watchlist entry: an account whose handle and display name look-alikes imitate, and
    the pack whose watchlist lists it."""

    id: str
    handle: str | None = None
    display_name: str | None = None
    pack: str | None = None


@dataclass(frozen=True, slots=True)
class CorrelationConfig:
    """Thresholds and windows of correlation (`postwatch.rules.detectors.correlation`).
    `campaign_authors` or `successor_reappearances` below 1 turns that check off;
    `successor_with_lookalike` is how many reappearances a look-alike needs beside it (0:
    the look-alike alone). The settings of the same names are the defaults; a pack's
    `correlation` section overrides them for its accounts and content (`overridden`)."""

    campaign_authors: int = 3
    campaign_window_s: float = 3600.0
    successor_reappearances: int = 3
    successor_with_lookalike: int = 1
    successor_window_s: float = 7 * 86400.0

    @classmethod
    def from_settings(cls, settings: Settings) -> CorrelationConfig:
        """The settings of the same names (`POSTWATCH_CAMPAIGN_AUTHORS`, ...)."""
        return cls(**{name: getattr(settings, name) for name in cls.__dataclass_fields__})

    def overridden(self, values: Mapping[str, float]) -> CorrelationConfig:
        """These values (a pack's `correlation`) in place of this config's; raises
        ValueError for a name that is none of its fields or a value out of range."""
        unknown = sorted(set(values) - set(self.__dataclass_fields__))
        if unknown:
            raise ValueError(f"no threshold or window of correlation is named {unknown[0]!r}")
        return replace(self, **values)  # type: ignore[arg-type]

    def __post_init__(self) -> None:
        counts = ("campaign_authors", "successor_reappearances", "successor_with_lookalike")
        for name in counts:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} is a count, a whole number 0 or more")
        for name in ("campaign_window_s", "successor_window_s"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise ValueError(f"{name} is a number of seconds")  # noqa: TRY004
            if not 0 < value <= LONGEST_WINDOW_S:  # NaN is neither
                raise ValueError(f"{name} is more than 0 s and at most {LONGEST_WINDOW_S:.0f} s")
