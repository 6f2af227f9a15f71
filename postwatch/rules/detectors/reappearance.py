"""Reappearance: a post whose text or media is near a learned entry raises a `reappearance`
alert naming the original post and author, the similarity (text) or distance (media), and
whether the author is the same (a repeat) or another (a mirror)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from postwatch.rules.detectors.alerting import detector_alert
from postwatch.rules.detectors.learning import Learned, LearnedBank, fingerprint
from postwatch.rules.language.model import Post

__all__ = ["reappearances"]


def reappearances(
    learned: LearnedBank, post: Post, now: datetime, min_words: int
) -> list[dict[str, Any]]:
    """An alert for each learned entry of another post that this post's text (of
    `min_words` folded words or more) or media comes near: text ones first."""
    hits: list[tuple[Learned, dict[str, Any]]] = []
    signature = fingerprint(post.text, min_words) if learned.texts else None
    if signature is not None:
        hits.extend(
            (
                original,
                {"type": "text_fingerprint", "field": "text", "similarity": round(score, 3)},
            )
            for original, score in learned.similar_texts(signature)
            if original.post_id != post.id
        )
    for i, media in enumerate(post.media):
        if not media.pdq or not learned.media:
            continue
        hits.extend(
            (
                original,
                {
                    "type": "pdq",
                    "field": f"media[{i}]",
                    "distance": hit.distance,
                    "matched": hit.matched,
                },
            )
            for original, hit in learned.near_media(media)
            if original.post_id != post.id
        )
    return [_alert(post, now, original, found) for original, found in hits]


def _alert(post: Post, now: datetime, original: Learned, found: dict[str, Any]) -> dict[str, Any]:
    relation = "repeat" if original.author_id == post.author.id else "mirror"
    evidence = {
        **found,
        "value": original.value[:64] if original.kind == "pdq" else original.key,
        "original_post_id": original.post_id,
        "original_author_id": original.author_id,
        "original_author_handle": original.author_handle,
        "original_alert_id": original.alert_id,
        "relation": relation,
    }
    return detector_alert(
        "reappearance",
        post,
        now,
        rule_id=f"reappearance/{original.key}",
        title=f"Reappearance ({relation}) of post {original.post_id}",
        evidence=[evidence],
    )
