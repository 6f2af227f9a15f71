"""Reappearance: a post whose text or media is near a learned entry raises a `reappearance`
alert naming the original post and author, the similarity (text), the share of letter runs
(text read in an image, `image_text`), the distance (PDQ) or the inliers (local features: a
cropped, captioned or framed copy), and whether the author is the same (a repeat) or another
(a mirror)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Literal, TypedDict, Unpack

from postwatch.rules.alerts import Alert
from postwatch.rules.detectors.learning import (
    SAME_LETTERS,
    Learned,
    LearnedBank,
    fingerprint,
    letter_forms,
    shared_letters,
)
from postwatch.rules.detectors.semantic import SemanticIndex
from postwatch.rules.language.model import Evidence, Post

__all__ = ["FEATURE_SEARCHES", "reappearances", "same_text", "semantic_reappearances"]

FEATURE_SEARCHES = 16
"""Media items of one post searched by their local features (a search costs milliseconds;
the media fetcher hashes at most 16 a post, and a post from elsewhere may carry thousands)."""


def semantic_reappearances(index: SemanticIndex, post: Post, now: datetime) -> list[Alert]:
    """An alert for each learned text of another post that this post's text is a paraphrase
    or translation of (`semantic`), for a post worth embedding."""
    if not index.worth(post.text):
        return []
    return [
        _alert(post, now, original, "embedding", "text", similarity=round(score, 3))
        for original, score in index.similar(post.text)
        if original.post_id != post.id
    ]


def reappearances(learned: LearnedBank, post: Post, now: datetime, min_words: int) -> list[Alert]:
    """An alert for each learned entry of another post that this post's text (of
    `min_words` folded words or more), the text in its images, its images or its videos'
    keyframes come near: text ones first. An image near a learned one does not count when
    both hold text and the texts are not one (`same_text`): a poster of one template with
    another statement."""
    alerts: list[Alert] = []
    seen: set[str] = {post.id}  # originals found by a text (the post's, or in an image)
    read = {f"media[{i}].text": m.text for i, m in enumerate(post.media) if m.text is not None}
    runs = {field: letter_forms(text) for field, text in read.items()}
    texts = [("text", post.text), *read.items()] if learned.texts else []
    for field, text in texts:
        printed = fingerprint(text, min_words)
        found = [
            _alert(
                post,
                now,
                original,
                "text_fingerprint",
                field,
                similarity=round(score, 3),
                containment=None if contained is None else round(contained, 3),
            )
            for original, score, contained in (learned.similar_texts(printed) if printed else ())
            if original.post_id not in seen
        ]
        seen.update(str(a.evidence[0].original_post_id) for a in found)
        if field in runs:  # read in an image: by its letters too, what OCR misread aside
            found.extend(
                _alert(post, now, original, "image_text", field, containment=round(share, 3))
                for original, share in learned.same_letters(runs[field])
                if original.post_id not in seen
            )
            seen.update(str(a.evidence[0].original_post_id) for a in found)
        alerts.extend(found)
    searched = 0
    for i, media in enumerate(post.media):
        field = f"media[{i}]"
        letters = runs.get(f"{field}.text", {})
        hashed = [("", media), *media.as_frames()] if learned.media else []
        found = [
            _alert(
                post,
                now,
                original,
                "pdq",
                field + suffix,
                distance=hit.distance,
                matched=hit.matched,
            )
            for suffix, item in hashed
            if item.pdq
            for original, hit in learned.near_media(item)
            if original.post_id != post.id and same_text(letters, original)
        ]
        if learned.images and media.features and searched < FEATURE_SEARCHES:
            searched += 1
            for mirror in (False, True):  # the image's own features, then its mirror image's
                if mirror and found:
                    break  # a copy of a learned image already: its mirror image is not searched
                known = {post.id, *(alert.evidence[0].original_post_id for alert in found)}
                found.extend(
                    _alert(
                        post,
                        now,
                        original,
                        "local_features",
                        field,
                        matched="mirror image" if mirror else None,
                        inliers=n,
                    )
                    for original, n in learned.near_images(media, mirror=mirror)
                    if original.post_id not in known and same_text(letters, original)
                )
        alerts.extend(found)
    return alerts


def same_text(letters: Mapping[int, frozenset[int]], original: Learned) -> bool:
    """Whether an image whose text has these letter runs (in each form, `letter_forms`) may
    be the learned image `original`, by their texts: unless both hold one, yes; else when
    they are one text (`SAME_LETTERS` of the shorter's letter runs in the other, in the form
    of the original's: OCR of a cropped or captioned copy loses or gains a line, and misreads
    some letters)."""
    runs = letters.get(original.letters_form, frozenset())
    if not runs or not original.letters:
        return True
    return shared_letters(runs, original.letters) >= SAME_LETTERS


class _Measured(TypedDict, total=False):
    """What a check measured of a post near a learned entry (see `Evidence`)."""

    matched: str | None
    distance: int | None
    similarity: float | None
    containment: float | None
    inliers: int | None


def _alert(
    post: Post,
    now: datetime,
    original: Learned,
    kind: str,
    field: str,
    **measured: Unpack[_Measured],
) -> Alert:
    """The reappearance alert of `post`, whose `field` is near `original` as measured."""
    relation: Literal["mirror", "repeat"] = (
        "repeat" if original.author_id == post.author.id else "mirror"
    )
    evidence = Evidence(
        kind,
        field,
        original.value[:64] if original.kind == "pdq" else original.key,  # a PDQ as hex
        **measured,
        original_post_id=original.post_id,
        original_author_id=original.author_id,
        original_author_handle=original.author_handle,
        original_alert_id=original.alert_id,
        relation=relation,
        pack=original.pack,
    )
    return Alert.detected(
        "reappearance",
        post,
        now,
        rule_id=f"reappearance/{original.key}",
        title=f"Reappearance ({relation}) of post {original.post_id}",
        evidence=[evidence],
    )
