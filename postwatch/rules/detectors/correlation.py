"""Correlation over alerts: mirror networks and successor accounts, the checks that read the
alerts of many posts rather than one post. One implementation for every place that runs
them; `postwatch match` feeds it its alerts in file order.

- campaign: `campaign_authors` or more distinct authors whose posts reappear as mirrors of
  the same original post (none of them its author) within `campaign_window_s` of the first
  of them raise one `campaign` alert listing the accounts and their posts; each account
  that joins later in that window updates it with a `summary` (the posts since the alert,
  the evidence as it stands), one alert per original per window.
- successor: an author gathers evidence of succeeding an account whose content it re-posts
  or whose name it imitates: its mirror reappearances of that account's posts within
  `successor_window_s`, and a look-alike alert naming that account. At
  `successor_reappearances` of them, or a look-alike with `successor_with_lookalike`, one
  `successor` alert names both accounts and every piece of evidence (the alerts, and the
  signs of succession they carry: links to the account's hosts, posting when it had gone
  quiet; see `succession`); what comes later updates it with a `summary`, never a new alert
  per post.

Time is the time of the posts (their `created_at`), not of arrival, so the same alerts give
the same alerts with the same ids wherever and whenever they are read; an alert read again
(by its id) adds nothing.

`Campaigns` and `Successions` keep their state in a mapping from the key of what they
correlate (`campaign_key`, `succession_key`) to a `Correlation`, which `encode_state` and
`decode_state` turn into bytes and back: a dict in `postwatch match`, a changelog-backed
table in `postwatch correlate`, which routes each alert to the partition of its key.
`Correlator` runs both over one stream of alerts.

Thresholds and windows are a `CorrelationConfig`: the settings', or the pack's own
(`pack_configs`) for the accounts and content of a pack with a `correlation` section. The
pack of a correlation is that of its first alert (`pack_of`: the pack that taught the
original, or lists the watched account).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, MutableMapping
from datetime import datetime, timedelta

import msgspec

from postwatch.rules.alerts import Alert, AlertKind, isoformat
from postwatch.rules.detectors.succession import SIGNS, named_account, pack_of
from postwatch.rules.language.model import CorrelationConfig, Evidence, Pack

__all__ = [
    "Campaigns",
    "Correlation",
    "Correlator",
    "Successions",
    "campaign_key",
    "decode_state",
    "encode_state",
    "pack_configs",
    "succession_key",
]

_EXPIRE_EVERY = 4096
"""Alerts observed between two passes that forget closed campaigns and stale successions, at
the least; at most twice as many as there are states, so that a pass (which reads every
state) costs at most half a state read per alert."""


class Seen(msgspec.Struct, frozen=True):
    """One alert a correlation counts: its id, whose post, which, when, of what kind, and
    the signs of succession in its evidence (`succession.SIGNS`)."""

    alert_id: str
    author_id: str
    post_id: str
    at: datetime
    kind: str
    signs: tuple[Evidence, ...] = ()

    @classmethod
    def of(cls, alert: Alert) -> Seen:
        post = alert.post
        created = datetime.fromisoformat(post.created_at)
        signs = tuple(e for e in alert.evidence if e.type in SIGNS)
        return cls(alert.alert_id, post.author.id, post.id, created, alert.kind, signs)


class Correlation(msgspec.Struct):
    """What one correlation gathered (in the order it came), from when, the alert it raised
    (None before) when it had gathered `alerted` of them, and the pack whose thresholds and
    window hold for it (None: the settings')."""

    start: datetime
    seen: list[Seen] = msgspec.field(default_factory=list)
    alert: Alert | None = None
    alerted: int = 0
    pack: str | None = None


_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(Correlation)


def encode_state(correlation: Correlation) -> bytes:
    return _ENCODER.encode(correlation)


def decode_state(data: bytes) -> Correlation:
    """Raises msgspec.DecodeError for bytes that are no state of a correlation."""
    return _DECODER.decode(data)


def pack_configs(config: CorrelationConfig, packs: Iterable[Pack]) -> dict[str, CorrelationConfig]:
    """The config of each pack that has a `correlation` section: `config` with the pack's
    values in place of its own."""
    return {pack.id: config.overridden(pack.correlation) for pack in packs if pack.correlation}


def _mirrored(alert: Alert) -> Evidence | None:
    """The evidence of a mirror reappearance (another author's post near a learned one)."""
    evidence = alert.evidence[0]
    if alert.kind == "reappearance" and evidence.relation == "mirror":
        return evidence
    return None


def campaign_key(alert: Alert) -> str | None:
    """The original post a mirror reappearance re-posts; None for any other alert."""
    evidence = _mirrored(alert)
    return None if evidence is None else evidence.original_post_id


def succession_key(alert: Alert) -> str | None:
    """`account>author` for an alert that is evidence of the author succeeding the account
    (a mirror reappearance of its posts, a look-alike of it); None for any other alert."""
    account = named_account(alert)
    author = alert.post.author.id
    return None if account is None or account == author else f"{account}>{author}"


class _Correlations(ABC):
    """What campaigns and successions share: the store, expiring old state, updates, and
    what `observe` does before the gathering of each."""

    def __init__(
        self,
        config: CorrelationConfig,
        store: MutableMapping[str, Correlation] | None = None,
        packs: Mapping[str, CorrelationConfig] | None = None,
    ) -> None:
        """`config` holds where `packs` (pack id -> its config; read at each alert, so that
        the caller may change it) has none."""
        self.config = config
        self.packs: Mapping[str, CorrelationConfig] = {} if packs is None else packs
        self.store: MutableMapping[str, Correlation] = {} if store is None else store
        self._latest: datetime | None = None
        self._until_expiry = _EXPIRE_EVERY

    def observe(self, alert: Alert, now: datetime) -> list[Alert]:
        """The alert or update that `alert` raises here, detected at `now`."""
        key = self._key(alert)
        if key is None:
            return []
        seen = self._seen(alert)
        correlation = self.store.get(key)
        if correlation is None:
            correlation = Correlation(start=seen.at, pack=pack_of(alert))
        if not self._on(self.config_of(correlation)):
            return []
        return self._gather(key, correlation, seen, alert, now)

    def config_of(self, correlation: Correlation) -> CorrelationConfig:
        """The thresholds and windows that hold for `correlation`."""
        pack = correlation.pack
        return self.config if pack is None else self.packs.get(pack, self.config)

    def window_of(self, correlation: Correlation) -> timedelta:
        return timedelta(seconds=self._window_s(self.config_of(correlation)))

    @staticmethod
    @abstractmethod
    def _key(alert: Alert) -> str | None:
        """What the alert is evidence of here (None: nothing)."""

    @staticmethod
    @abstractmethod
    def _window_s(config: CorrelationConfig) -> float: ...

    @staticmethod
    @abstractmethod
    def _on(config: CorrelationConfig) -> bool: ...

    @abstractmethod
    def _gather(
        self, key: str, correlation: Correlation, seen: Seen, alert: Alert, now: datetime
    ) -> list[Alert]:
        """Add what `seen` says to `correlation`, the state of `key` (new, or as stored);
        the alert or update it raises."""

    def _seen(self, alert: Alert) -> Seen:
        seen = Seen.of(alert)
        self._latest = seen.at if self._latest is None else max(self._latest, seen.at)
        self._until_expiry -= 1
        if self._until_expiry <= 0:
            latest = self._latest
            stale = [k for k, c in self.store.items() if self._stale(c, latest)]
            for key in stale:
                del self.store[key]
            self._until_expiry = max(_EXPIRE_EVERY, 2 * len(self.store))
        return seen

    @abstractmethod
    def _stale(self, correlation: Correlation, latest: datetime) -> bool:
        """Whether `correlation` may be forgotten, `latest` being the newest post seen."""

    def _raise(
        self,
        kind: AlertKind,
        key: str,
        correlation: Correlation,
        alert: Alert,
        now: datetime,
        *,
        about: str,
        title: str,
    ) -> Alert:
        """The alert of `correlation` (under `kind/key`, its id from `about`), shown with the
        post of `alert`, which brought it to its threshold."""
        correlation.alert = Alert.correlated(
            kind,
            alert.post,
            about,
            now,
            rule_id=f"{kind}/{key.replace('>', '/')}",
            title=title,
            evidence=self._evidence(key, correlation),
        )
        correlation.alerted = len(correlation.seen)
        return correlation.alert

    def _update(self, key: str, correlation: Correlation, first: Alert, now: datetime) -> Alert:
        """The summary that updates `first`, the alert of `correlation`, with all since."""
        later = correlation.seen[correlation.alerted :]
        return first.summary(
            suppressed_count=len(later),
            suppressed_post_ids=[s.post_id for s in later],
            window_start=correlation.start,
            window_end=correlation.start + self.window_of(correlation),
            detected_at=now,
            evidence=self._evidence(key, correlation),
        )

    @abstractmethod
    def _evidence(self, key: str, correlation: Correlation) -> list[Evidence]:
        """The evidence an alert of `correlation` lists, one piece an alert gathered."""


def _gathered(
    correlation: Correlation,
    *,
    original_post_id: str | None = None,
    original_author_id: str | None = None,
) -> list[Evidence]:
    """A piece of evidence for each alert `correlation` gathered: its id and author, and
    what they correlate on."""
    return [
        Evidence(
            "alert",
            "author.id",
            s.alert_id,
            matched=s.author_id,
            original_post_id=original_post_id,
            original_author_id=original_author_id,
            pack=correlation.pack,
        )
        for s in correlation.seen
    ]


class Campaigns(_Correlations):
    """Campaigns by original post (see the module)."""

    _key = staticmethod(campaign_key)

    @staticmethod
    def _window_s(config: CorrelationConfig) -> float:
        return config.campaign_window_s

    @staticmethod
    def _on(config: CorrelationConfig) -> bool:
        return config.campaign_authors >= 1

    def _gather(
        self, original: str, campaign: Correlation, seen: Seen, alert: Alert, now: datetime
    ) -> list[Alert]:
        window = self.window_of(campaign)
        if seen.at > campaign.start + window:  # a new window
            campaign = Correlation(start=seen.at, pack=pack_of(alert))
            window = self.window_of(campaign)
        elif any(s.author_id == seen.author_id for s in campaign.seen):
            return []  # an account already in it
        elif seen.at < campaign.start:  # came late: it opens the window if nothing was raised
            if campaign.alert is not None:
                return []
            campaign.start = seen.at
            campaign.seen = [s for s in campaign.seen if s.at <= seen.at + window]
        campaign.seen.append(seen)
        raised: list[Alert] = []
        if campaign.alert is not None:
            raised.append(self._update(original, campaign, campaign.alert, now))
        elif len(campaign.seen) >= self.config_of(campaign).campaign_authors:
            title = f"{len(campaign.seen)} accounts re-posting post {original} within {window}"
            raised.append(
                self._raise(
                    "campaign",
                    original,
                    campaign,
                    alert,
                    now,
                    about=f"{original}@{isoformat(campaign.start)}",
                    title=title,
                )
            )
        self.store[original] = campaign
        return raised

    def _evidence(self, key: str, correlation: Correlation) -> list[Evidence]:
        return _gathered(correlation, original_post_id=key)

    def _stale(self, correlation: Correlation, latest: datetime) -> bool:
        return correlation.start < latest - 2 * self.window_of(correlation)


class Successions(_Correlations):
    """Successions by (account, author) (see the module)."""

    _key = staticmethod(succession_key)

    @staticmethod
    def _window_s(config: CorrelationConfig) -> float:
        return config.successor_window_s

    @staticmethod
    def _on(config: CorrelationConfig) -> bool:
        return config.successor_reappearances >= 1

    def _gather(
        self, key: str, succession: Correlation, seen: Seen, alert: Alert, now: datetime
    ) -> list[Alert]:
        config = self.config_of(succession)
        if any(s.alert_id == seen.alert_id for s in succession.seen):
            return []
        succession.seen.append(seen)
        raised: list[Alert] = []
        if succession.alert is not None:
            raised.append(self._update(key, succession, succession.alert, now))
        else:
            # a look-alike is kept: it is raised once a pair
            oldest = seen.at - self.window_of(succession)
            succession.seen = [
                s for s in succession.seen if s.kind == "lookalike_account" or s.at >= oldest
            ]
            succession.start = min(s.at for s in succession.seen)
            reappearances = sum(s.kind == "reappearance" for s in succession.seen)
            lookalike = any(s.kind == "lookalike_account" for s in succession.seen)
            needed = (
                config.successor_with_lookalike if lookalike else config.successor_reappearances
            )
            if reappearances >= needed:
                account, _, author = key.partition(">")
                title = f"{alert.post.author.handle or author} looks like a successor of {account}"
                raised.append(
                    self._raise("successor", key, succession, alert, now, about=key, title=title)
                )
        self.store[key] = succession
        return raised

    def _evidence(self, key: str, correlation: Correlation) -> list[Evidence]:
        """An alert's piece for each alert gathered, then each sign of succession they
        carried (a host or a quiet spell once)."""
        alerts = _gathered(correlation, original_author_id=key.partition(">")[0])
        signs = {(e.type, e.value): e for s in correlation.seen for e in s.signs}
        return alerts + list(signs.values())

    def _stale(self, correlation: Correlation, latest: datetime) -> bool:
        """Not alerted (what is, stays: it is never alerted again), every piece older than
        the window, and no look-alike among them."""
        oldest = latest - self.window_of(correlation)
        return correlation.alert is None and all(
            s.kind == "reappearance" and s.at < oldest for s in correlation.seen
        )


class Correlator:
    """Campaigns and successions over one stream of alerts, each state in a dict; `packs`
    as `pack_configs` gives them."""

    def __init__(
        self, config: CorrelationConfig, packs: Mapping[str, CorrelationConfig] | None = None
    ) -> None:
        self.campaigns = Campaigns(config, packs=packs)
        self.successions = Successions(config, packs=packs)

    def observe(self, alert: Alert, now: datetime) -> list[Alert]:
        """The alerts that `alert` raises or updates, detected at `now`."""
        return self.campaigns.observe(alert, now) + self.successions.observe(alert, now)
