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
  `successor` alert names both accounts and every piece of evidence; what comes later
  updates it with a `summary`, never a new alert per post.

Time is the time of the posts (their `created_at`), not of arrival, so the same alerts give
the same alerts with the same ids wherever and whenever they are read; an alert read again
(by its id) adds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from postwatch.rules.alerts import Alert, AlertPost, isoformat
from postwatch.rules.language.model import Evidence

if TYPE_CHECKING:
    from postwatch.settings import Settings

__all__ = ["CorrelationConfig", "Correlator"]

_EXPIRE_EVERY = 4096
"""Alerts observed between two passes that forget closed campaigns and stale successions."""


@dataclass(frozen=True, slots=True)
class CorrelationConfig:
    """Thresholds and windows. `campaign_authors` or `successor_reappearances` below 1 turns
    that check off; `successor_with_lookalike` is how many reappearances a look-alike needs
    beside it (0: the look-alike alone)."""

    campaign_authors: int = 3
    campaign_window_s: float = 3600.0
    successor_reappearances: int = 3
    successor_with_lookalike: int = 1
    successor_window_s: float = 7 * 86400.0

    @classmethod
    def from_settings(cls, settings: Settings) -> CorrelationConfig:
        """The settings of the same names (`POSTWATCH_CAMPAIGN_AUTHORS`, ...)."""
        return cls(**{name: getattr(settings, name) for name in cls.__dataclass_fields__})

    def __post_init__(self) -> None:
        if min(self.campaign_window_s, self.successor_window_s) <= 0:
            raise ValueError("the windows of correlation are longer than 0 s")
        if self.successor_with_lookalike < 0:
            raise ValueError("successor_with_lookalike is a count of reappearances, 0 or more")


@dataclass(frozen=True, slots=True)
class _Seen:
    """One alert a correlation counts: whose post, which, when."""

    alert_id: str
    author_id: str
    post_id: str
    at: datetime
    kind: str


@dataclass
class _Correlation:
    """What one correlation gathered, and the alert it raised (None before)."""

    start: datetime
    seen: dict[str, _Seen] = field(default_factory=dict)
    alert: Alert | None = None
    alerted: int = 0
    """How many alerts were gathered when `alert` was raised."""


class Correlator:
    """Campaigns by original post, successions by (account, author); see the module."""

    def __init__(self, config: CorrelationConfig) -> None:
        self.config = config
        self._campaign_window = timedelta(seconds=config.campaign_window_s)
        self._successor_window = timedelta(seconds=config.successor_window_s)
        self._campaigns: dict[str, _Correlation] = {}
        self._successions: dict[tuple[str, str], _Correlation] = {}
        self._latest: datetime | None = None
        self._observed = 0

    def observe(self, alert: Alert, now: datetime) -> list[Alert]:
        """The alerts that `alert` raises or updates here, detected at `now`."""
        if alert.kind not in ("reappearance", "lookalike_account"):
            return []
        evidence = alert.evidence[0]
        seen = _Seen(
            alert.alert_id,
            alert.post.author.id,
            alert.post.id,
            datetime.fromisoformat(alert.post.created_at),
            alert.kind,
        )
        self._latest = seen.at if self._latest is None else max(self._latest, seen.at)
        self._observed += 1
        if self._observed % _EXPIRE_EVERY == 0:
            self._expire(self._latest)
        raised: list[Alert] = []
        if alert.kind == "lookalike_account" and evidence.watched_account_id:
            raised += self._succession(evidence.watched_account_id, seen, alert.post, now)
        elif evidence.relation == "mirror" and evidence.original_author_id:
            if evidence.original_post_id:
                raised += self._campaign(evidence.original_post_id, seen, alert.post, now)
            raised += self._succession(evidence.original_author_id, seen, alert.post, now)
        return raised

    def _campaign(self, original: str, seen: _Seen, post: AlertPost, now: datetime) -> list[Alert]:
        if self.config.campaign_authors < 1:
            return []
        campaign = self._campaigns.get(original)
        if campaign is None or seen.at > campaign.start + self._campaign_window:
            campaign = self._campaigns[original] = _Correlation(start=seen.at)
        elif seen.at < campaign.start or seen.author_id in {
            s.author_id for s in campaign.seen.values()
        }:
            return []  # before the window (late) or an account already in it
        campaign.seen[seen.alert_id] = seen
        if len(campaign.seen) < self.config.campaign_authors:
            return []
        accounts = len(campaign.seen)
        window = self._campaign_window
        evidence = [
            Evidence(
                "alert", "author.id", s.alert_id, matched=s.author_id, original_post_id=original
            )
            for s in campaign.seen.values()
        ]
        if campaign.alert is None:
            campaign.alert = Alert.correlated(
                "campaign",
                post,
                f"{original}@{isoformat(campaign.start)}",
                now,
                rule_id=f"campaign/{original}",
                title=f"{accounts} accounts re-posting post {original} within {window}",
                evidence=evidence,
            )
            campaign.alerted = accounts
            return [campaign.alert]
        return [self._update(campaign.alert, campaign, evidence, window, now)]

    def _succession(self, account: str, seen: _Seen, post: AlertPost, now: datetime) -> list[Alert]:
        config = self.config
        if seen.author_id == account or config.successor_reappearances < 1:
            return []
        key = (account, seen.author_id)
        succession = self._successions.setdefault(key, _Correlation(start=seen.at))
        if seen.alert_id in succession.seen:
            return []
        succession.seen[seen.alert_id] = seen
        if succession.alert is None:
            self._drop_old(succession, seen.at)
        reappearances = sum(s.kind == "reappearance" for s in succession.seen.values())
        lookalike = any(s.kind == "lookalike_account" for s in succession.seen.values())
        window = self._successor_window
        evidence = [
            Evidence(
                "alert", "author.id", s.alert_id, matched=s.author_id, original_author_id=account
            )
            for s in succession.seen.values()
        ]
        if succession.alert is not None:
            return [self._update(succession.alert, succession, evidence, window, now)]
        if reappearances < (
            config.successor_with_lookalike if lookalike else config.successor_reappearances
        ):
            return []
        succession.alert = Alert.correlated(
            "successor",
            post,
            f"{account}>{seen.author_id}",
            now,
            rule_id=f"successor/{account}/{seen.author_id}",
            title=f"{post.author.handle or seen.author_id} looks like a successor of {account}",
            evidence=evidence,
        )
        succession.alerted = len(succession.seen)
        return [succession.alert]

    def _drop_old(self, succession: _Correlation, at: datetime) -> None:
        """Forget the reappearances of a succession not yet alerted that are older than its
        window; a look-alike alert is kept (it is raised once per pair)."""
        oldest = at - self._successor_window
        for alert_id, s in list(succession.seen.items()):
            if s.kind == "reappearance" and s.at < oldest:
                del succession.seen[alert_id]
        succession.start = min((s.at for s in succession.seen.values()), default=at)

    def _expire(self, latest: datetime) -> None:
        """Forget the campaigns whose window closed a window before the latest post seen,
        and the successions not alerted whose every piece of evidence is that old and
        holds no look-alike (what is alerted stays, so that it is never alerted again)."""
        closed = latest - 2 * self._campaign_window
        self._campaigns = {k: c for k, c in self._campaigns.items() if c.start >= closed}
        oldest = latest - self._successor_window
        self._successions = {
            k: c
            for k, c in self._successions.items()
            if c.alert is not None
            or any(s.kind == "lookalike_account" or s.at >= oldest for s in c.seen.values())
        }

    @staticmethod
    def _update(
        first: Alert,
        correlation: _Correlation,
        evidence: list[Evidence],
        window: timedelta,
        now: datetime,
    ) -> Alert:
        """The summary that updates `first`, the alert of `correlation`, with all since."""
        later = list(correlation.seen.values())[correlation.alerted :]
        return first.summary(
            suppressed_count=len(later),
            suppressed_post_ids=[s.post_id for s in later],
            window_start=correlation.start,
            window_end=correlation.start + window,
            detected_at=now,
            evidence=evidence,
        )
