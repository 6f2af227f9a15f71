"""Reappearance: a post whose text or media is near a learned entry raises a `reappearance`
alert naming the original post and author, the similarity (text), the distance (PDQ) or the
inliers (local features: a cropped, captioned or framed copy), and whether the author is the
same (a repeat) or another (a mirror)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

from postwatch.rules.alerts import Alert
from postwatch.rules.detectors.learning import Learned, LearnedBank, fingerprint
from postwatch.rules.detectors.semantic import SemanticIndex
from postwatch.rules.language.model import Evidence, Post

__all__ = ["FEATURE_SEARCHES", "reappearances", "semantic_reappearances"]

FEATURE_SEARCHES = 16
"""Media items of one post searched by their local features (a search costs milliseconds;
the media fetcher hashes at most 16 a post, and a post from elsewhere may carry thousands)."""


def semantic_reappearances(index: SemanticIndex, post: Post, now: datetime) -> list[Alert]:
    """An alert for each learned text of another post that this post's text is a paraphrase
    or translation of (`semantic`), for a post worth embedding."""
    if not index.worth(post.text):
        return []
    return [
        _alert(
            post,
            now,
            original,
            Evidence("embedding", "text", _shown(original), similarity=round(score, 3)),
        )
        for original, score in index.similar(post.text)
        if original.post_id != post.id
    ]


def reappearances(learned: LearnedBank, post: Post, now: datetime, min_words: int) -> list[Alert]:
    """An alert for each learned entry of another post that this post's text (of
    `min_words` folded words or more) or media comes near: text ones first."""
    alerts: list[Alert] = []
    text = fingerprint(post.text, min_words) if learned.texts else None
    if text is not None:
        alerts.extend(
            _alert(
                post,
                now,
                original,
                Evidence(
                    "text_fingerprint",
                    "text",
                    _shown(original),
                    similarity=round(score, 3),
                    containment=None if contained is None else round(contained, 3),
                ),
            )
            for original, score, contained in learned.similar_texts(text)
            if original.post_id != post.id
        )
    searched = 0
    for i, media in enumerate(post.media):
        field = f"media[{i}]"
        found = [
            _alert(
                post,
                now,
                original,
                Evidence(
                    "pdq", field, _shown(original), distance=hit.distance, matched=hit.matched
                ),
            )
            for original, hit in (learned.near_media(media) if media.pdq and learned.media else ())
            if original.post_id != post.id
        ]
        if learned.images and media.features and searched < FEATURE_SEARCHES:
            searched += 1
            seen = {alert.evidence[0].original_post_id for alert in found}  # found by PDQ
            found.extend(
                _alert(
                    post,
                    now,
                    original,
                    Evidence("local_features", field, _shown(original), inliers=n),
                )
                for original, n in learned.near_images(media)
                if original.post_id != post.id and original.post_id not in seen
            )
        alerts.extend(found)
    return alerts


def _shown(original: Learned) -> str:
    """How evidence names the learned entry (a PDQ cut to its 64 hex digits)."""
    return original.value[:64] if original.kind == "pdq" else original.key


def _alert(post: Post, now: datetime, original: Learned, found: Evidence) -> Alert:
    """The reappearance alert of `post`, near `original` as `found` measured."""
    relation: Literal["mirror", "repeat"] = (
        "repeat" if original.author_id == post.author.id else "mirror"
    )
    evidence = msgspec.structs.replace(
        found,
        original_post_id=original.post_id,
        original_author_id=original.author_id,
        original_author_handle=original.author_handle,
        original_alert_id=original.alert_id,
        relation=relation,
    )
    return Alert.detected(
        "reappearance",
        post,
        now,
        rule_id=f"reappearance/{original.key}",
        title=f"Reappearance ({relation}) of post {original.post_id}",
        evidence=[evidence],
    )
