"""Learning: what mirror detection remembers of a post, and how it finds it again.

A post's text is remembered as a fingerprint (`Fingerprint`): the MinHash of its word
bigrams, and the bigrams themselves as 32-bit hashes (texts under `min_words` folded words are
not fingerprinted). Links, handles, `RT` and HTML character references are left out; the
words are folded (`normalize`) and then written as their Roman Urdu
keys (`roman`: `Muhammad` and `Mohammed` are one word; English words stay as they are). Its
images are remembered by their PDQ hashes (with their mirror images') and, where the post
carries them, their local features (`postwatch.rules.matching.features`), which find a
cropped, captioned, rotated or framed copy that PDQ does not.

A learned text is found again (`LearnedBank.similar_texts`) when the estimated Jaccard
similarity of the two bigram sets reaches `text_threshold` (a light edit, hashtags added), or
when they share a passage (`MIN_SHARED` bigrams in a row, two of them with a word of
`CONTENT_LETTERS` letters or more) and their shared bigrams make `containment_threshold` or
more of either text's bigrams (`containment`): a third of a statement quoted with
commentary, a statement split over two posts, a statement inside a longer post. Candidates
come from the MinHash LSH and from an index of the bigrams; containment is counted exactly.
Each is a `Learned` entry that carries its provenance (the post, its author, the alert that
taught it); entries are records of their own (`Learned.encode` / `decode`) so that a worker
can share them with every other. `LearnedBank` holds them, searchable by similarity.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Literal, TypeVar

import msgspec
import numpy as np

from postwatch.rules.alerts import excerpt
from postwatch.rules.language.model import Media, Post
from postwatch.rules.matching.banks import BankHit, HashBank
from postwatch.rules.matching.banks.spec import is_hex
from postwatch.rules.matching.features import CANDIDATE_MATCHES, FeatureIndex, Features
from postwatch.rules.matching.matchers.urls import host
from postwatch.rules.matching.normalize import fold
from postwatch.rules.matching.roman import keys_of

if TYPE_CHECKING:
    from datasketch import MinHash, MinHashLSH

__all__ = [
    "CONTENT_LETTERS",
    "LETTER_FORM",
    "LETTER_RUN",
    "MIN_LETTER_RUNS",
    "MIN_SHARED",
    "NUM_PERM",
    "SAME_LETTERS",
    "Fingerprint",
    "Learned",
    "LearnedBank",
    "containment",
    "fingerprint",
    "letter_forms",
    "letter_runs",
    "link_domains",
    "shared_letters",
    "similarity",
]

LETTER_RUN = 5
MIN_LETTER_RUNS = 20
LETTER_FORM = 2
"""How `letter_runs` writes a text before cutting it into runs (`Learned.letters_form`):
2, the letters of its main script alone, Arabic script's as their skeleton; 1, every letter
as folded (entries learned before the skeleton, which still match a text written so)."""
SAME_LETTERS = 0.4
"""Share of the letter runs of the shorter of two texts read in images found in the other at
which they are one text (`shared_letters`): runs of five letters survive what OCR does to
Arabic script (a misread letter or word, two words read as one) where word bigrams do not;
in the benchmark's posters unrelated texts of one script share at most a third
(`benchmarks/ocr_bench.py`), and of 497,000 pairs of real Urdu and Arabic texts of Tatoeba
and UD 12 share 0.4 or more, all of one topic (Sami and money, one news story)."""
_ARABIC_SCRIPT = re.compile(r"[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff]")
_SKELETON = str.maketrans(
    {
        **dict.fromkeys("تثنيپٹ", "ب"),
        **dict.fromkeys("جخچ", "ح"),
        **dict.fromkeys("ذڈ", "د"),
        **dict.fromkeys("زڑژ", "ر"),
        "ش": "س",
        "ض": "ص",
        "ظ": "ط",
        "غ": "ع",
        "ق": "ف",
        "گ": "ك",
    }
)
"""Letters of Arabic script (as folded: hamza forms, yeh, heh and kaf are already one) that
differ only by their dots or a stroke, to one letter of each shape: most of what Tesseract
misreads in Urdu and Arabic is a dot."""
NUM_PERM = 128
"""MinHash permutations: the estimate's standard error is about 1/sqrt(128) = 0.09."""
SHINGLE_WORDS = 2
MIN_SHARED = 4
CONTENT_LETTERS = 5
"""Bigrams of a text, one after the other, that another must hold before containment counts:
a passage of five words or more in common (common phrases of fewer words are shared by
unrelated posts; `benchmarks/mirror_bench.py`)."""
_SEED = 1
_SCHEME = "affine32"  # datasketch 2's default; named, as restored signatures must say it


class Learned(msgspec.Struct, frozen=True, omit_defaults=True):
    """One learned fingerprint with its provenance; `encode` and `decode` are its record on
    the learned topic.

    `kind` is `text` (value: the MinHash signature, hex of NUM_PERM little-endian uint32),
    `pdq` (value: the hash, hex) or `features` (value: an image's encoded local features).
    `key` identifies the entry (a compacted topic's key). `learned_at` has a time zone."""

    kind: Literal["text", "pdq", "features"]
    value: str
    alert_id: str
    post_id: str
    author_id: str
    author_handle: str | None
    learned_at: Annotated[datetime, msgspec.Meta(tz=True)]
    excerpt: str = ""
    shingles: tuple[int, ...] = ()  # kind text: the bigrams' 32-bit hashes (none in old records)
    letters: tuple[int, ...] = ()
    """The letter runs (`letter_runs`) of the text read in an image: of a text learned from
    an image, and of the image of a pdq or features entry (none where it holds no text)."""
    domains: tuple[str, ...] = ()
    """The hosts the learned post linked to (`link_domains`): where its author sends people,
    which a successor account tends to send them too."""
    posted_at: Annotated[datetime, msgspec.Meta(tz=True)] | None = None
    """When the learned post was published (its `created_at`; none in old records)."""
    pack: str | None = None
    """The pack of the alert that taught it (`succession.pack_of`): whose correlation
    thresholds hold for its reappearances (none in old records)."""
    letters_form: int = 1
    """How its `letters` were written (`LETTER_FORM`; 1 in old records)."""

    def __post_init__(self) -> None:
        """Checked when decoded (a ValueError there is a msgspec.ValidationError): a value
        the learned bank could not take would fail later, in every post's alerts."""
        if self.kind == "features":
            Features.decode(self.value)
            return
        length = 4 * NUM_PERM if self.kind == "text" else 32
        if not is_hex(self.value, 2 * length):
            raise ValueError(f"a {self.kind} value is {length} bytes in hex")

    @property
    def key(self) -> str:
        digest = hashlib.sha256(self.value.encode("ascii")).hexdigest()[:32]
        return f"{self.kind}/{digest}"

    def encode(self) -> bytes:
        return _ENCODER.encode(self)

    @classmethod
    def decode(cls, data: bytes) -> Learned:
        """Raises msgspec.DecodeError (ValidationError) for bytes that are no entry."""
        return _DECODER.decode(data)


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(Learned)

_DOMAINS_MAX = 20


def link_domains(post: Post) -> tuple[str, ...]:
    """The hosts of the post's links (a leading `www.` left out), sorted, at most 20."""
    hosts = {h.removeprefix("www.") for link in post.links if (h := host(link.lower()))}
    return tuple(sorted(hosts))[:_DOMAINS_MAX]


_NOISE = re.compile(r"https?://\S+|(?<!\w)@\w+|(?<!\w)RT(?!\w)|&#?\w+;")
"""What says nothing of a text's content and is shared by unrelated posts: links, handles,
a retweet's `RT`, HTML character references."""


_IZAFAT = frozenset({"e", "i"})  # written apart or not (`Jaish-e-`, `Jaish`): left out


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """A text's MinHash signature and its bigrams' 32-bit hashes, as a set and in the
    order of the text, with whether each bigram holds a content word (`CONTENT_LETTERS`
    letters or more)."""

    signature: MinHash
    shingles: frozenset[int]
    order: tuple[int, ...]
    content: tuple[bool, ...]


def fingerprint(text: str, min_words: int) -> Fingerprint | None:
    """The fingerprint of the word bigrams of a text (a set: order of sentences matters only
    at their joins), or None for a text of fewer than `min_words` folded words."""
    words = [
        w
        for w in keys_of(fold(_NOISE.sub(" ", text)).text, loose=True)[0].split()
        if w not in _IZAFAT
    ]
    if len(words) < min_words:
        return None
    order = [" ".join(words[i : i + SHINGLE_WORDS]).encode() for i in range(len(words) - 1)]
    bigrams = sorted(set(order))
    from datasketch import MinHash  # noqa: PLC0415 - datasketch imports scipy (0.6 s)

    signature = MinHash(num_perm=NUM_PERM, seed=_SEED, scheme=_SCHEME)
    signature.update_batch(bigrams)
    hashes = tuple(map(zlib.crc32, order))
    content = tuple(
        max(len(words[i]), len(words[i + 1])) >= CONTENT_LETTERS for i in range(len(words) - 1)
    )
    return Fingerprint(signature, frozenset(hashes), hashes, content)


def letter_runs(text: str, form: int = LETTER_FORM) -> frozenset[int]:
    """The 32-bit hashes of the runs of LETTER_RUN letters of the folded text, its spaces
    left out (too few to compare, under MIN_LETTER_RUNS: none), written in `form`: in the
    current one, only the letters of its main script (Arabic script where more than half of
    them are; else the others: what OCR reads into a poster in another script is noise), and
    Arabic script's letters as their skeleton (`_SKELETON`)."""
    letters = "".join(fold(text).text.split())
    if form == LETTER_FORM:
        arabic = "".join(_ARABIC_SCRIPT.findall(letters))
        if 2 * len(arabic) > len(letters):
            letters = arabic.translate(_SKELETON)
        else:
            letters = _ARABIC_SCRIPT.sub("", letters)
    runs = frozenset(
        zlib.crc32(letters[i : i + LETTER_RUN].encode())
        for i in range(len(letters) - LETTER_RUN + 1)
    )
    return runs if len(runs) >= MIN_LETTER_RUNS else frozenset()


def letter_forms(text: str) -> dict[int, frozenset[int]]:
    """The letter runs of a text read in an image in each form a learned entry may hold."""
    return {form: letter_runs(text, form) for form in range(1, LETTER_FORM + 1)}


def shared_letters(runs: frozenset[int], other: Collection[int]) -> float:
    """The share of the letter runs of the shorter of two texts found in the other."""
    if not runs or not other:
        return 0.0
    return len(runs.intersection(other)) / min(len(runs), len(other))


def similarity(a: MinHash, b: MinHash) -> float:
    """The estimated Jaccard similarity of the two shingle sets."""
    return float(a.jaccard(b))


def containment(text: Fingerprint, original: frozenset[int]) -> tuple[int, float]:
    """The longest passage the text shares with the original: a run of its bigrams, one
    after the other, found in the original's, with two or more holding a content word (a
    run of 4 is a passage of five words; "i don t know why i" is no passage); and the
    largest share of either text's bigrams that they share."""
    longest = run = content = 0
    for bigram, has_content in zip(text.order, text.content, strict=True):
        if bigram in original:
            run += 1
            content += has_content
        else:
            run = content = 0
        if content >= 2:
            longest = max(longest, run)
    shared = len(text.shingles & original)
    share = shared / min(len(text.shingles), len(original)) if text.shingles and original else 0.0
    return longest, share


def _to_hex(signature: MinHash) -> str:
    return bytes(signature.hashvalues.astype("<u4").tobytes()).hex()


def _from_hex(value: str) -> MinHash:
    values = np.frombuffer(bytes.fromhex(value), dtype="<u4").astype(np.uint32)
    from datasketch import MinHash  # noqa: PLC0415 - datasketch imports scipy (0.6 s)

    return MinHash(num_perm=NUM_PERM, seed=_SEED, hashvalues=values, scheme=_SCHEME)


class LearnedBank:
    """Learned entries, searchable: text fingerprints in a MinHash LSH index (made with the
    first of them), PDQ hashes in a `HashBank` within `pdq_max_distance`, local features in
    a `FeatureIndex`.

    `texts` (key -> signature and entry), `media` (PDQ hex -> entry) and `images` (key ->
    features entry) are for reading only: an empty one is how a post's check is passed over
    cheaply (a worker asks for every post).
    """

    def __init__(
        self, *, text_threshold: float, containment_threshold: float, pdq_max_distance: int
    ) -> None:
        self.text_threshold = text_threshold
        self.containment_threshold = containment_threshold
        self.pdq_max_distance = pdq_max_distance
        self._lsh: MinHashLSH | None = None
        self._bigrams: defaultdict[int, set[str]] = defaultdict(set)  # bigram -> text keys
        # (letters form, letter run) -> text keys
        self._letters: defaultdict[tuple[int, int], set[str]] = defaultdict(set)
        self.texts: dict[str, tuple[MinHash, Learned]] = {}
        self.media: dict[str, Learned] = {}
        self.images: dict[str, Learned] = {}
        self._pdq = self._empty_pdq()
        self._features = FeatureIndex()

    def _empty_pdq(self) -> HashBank:
        return HashBank("learned", pdq_max_distance=self.pdq_max_distance, min_quality=0)

    def _text_index(self) -> MinHashLSH:
        if self._lsh is None:
            from datasketch import MinHashLSH  # noqa: PLC0415 - datasketch imports scipy (0.6 s)

            # candidates from a lower LSH threshold, so that pairs just above the real one
            # are not lost to banding; each is then scored against text_threshold
            lsh_threshold = max(0.1, self.text_threshold - 0.1)
            self._lsh = MinHashLSH(threshold=lsh_threshold, num_perm=NUM_PERM)
        return self._lsh

    def entries(self) -> list[Learned]:
        """Every learned entry, text ones first, each in the order learned."""
        return [
            *(entry for _, entry in self.texts.values()),
            *self.media.values(),
            *self.images.values(),
        ]

    def learn(self, entry: Learned) -> bool:
        """Add a learned entry (from this bank or another); False if it was known."""
        if entry.kind == "text":
            if entry.key in self.texts:
                return False
            signature = _from_hex(entry.value)
            self.texts[entry.key] = (signature, entry)
            self._text_index().insert(entry.key, signature)
            for bigram in entry.shingles:
                self._bigrams[bigram].add(entry.key)
            for run in entry.letters:
                self._letters[entry.letters_form, run].add(entry.key)
            return True
        if entry.kind == "features":
            if entry.key in self.images:
                return False
            self._features.add(entry.key, Features.decode(entry.value))
            self.images[entry.key] = entry
            return True
        if entry.value in self.media:
            return False
        self._pdq.add("pdq", entry.value)
        self.media[entry.value] = entry
        return True

    def forget(self, key: str) -> None:
        """Remove a learned entry by key (a tombstone on the learned topic)."""
        if key in self.texts:
            _, entry = self.texts.pop(key)
            self._text_index().remove(key)
            for bigram in entry.shingles:
                _discard(self._bigrams, bigram, key)
            for run in entry.letters:
                _discard(self._letters, (entry.letters_form, run), key)
            return
        if self.images.pop(key, None) is not None:
            self._features.remove(key)
            return
        # PDQIndex has no removal: the bank is rebuilt without the entry
        kept = [e for e in self.media.values() if e.key != key]
        if len(kept) != len(self.media):
            self._pdq = self._empty_pdq()
            self.media = {}
            for entry in kept:
                self.learn(entry)

    def learn_post(
        self, post: Post, source_alert: str, now: datetime, min_words: int, pack: str | None
    ) -> list[Learned]:
        """Learn the fingerprints of the post's text and of the text in its images, and its
        images' PDQ hashes and local features, which `source_alert` (an alert of the post,
        about `pack`) taught; returns the entries that were new."""

        def entry(
            kind: Literal["text", "pdq", "features"],
            value: str,
            shingles: Iterable[int] = (),
            text: str = post.text,
            letters: Iterable[int] = (),
        ) -> Learned:
            return Learned(
                kind,
                value,
                source_alert,
                post.id,
                post.author.id,
                post.author.handle,
                now,
                excerpt(text, None),
                tuple(sorted(shingles)),
                tuple(sorted(letters)),
                domains,
                post.created,
                pack,
                LETTER_FORM,
            )

        domains = link_domains(post)
        found: list[Learned] = []
        printed = fingerprint(post.text, min_words)
        if printed is not None:
            found.append(entry("text", _to_hex(printed.signature), printed.shingles))
        # the text in each image: learned as text, and its letter runs with the image's
        # entries (what tells two posters of one template apart: `reappearance.same_text`)
        read = [letter_runs(m.text) if m.text else frozenset() for m in post.media]
        for m, runs in zip(post.media, read, strict=True):
            printed = fingerprint(m.text, min_words) if m.text else None
            if m.text and printed is not None:  # (m.text again, for the type checker)
                sig = _to_hex(printed.signature)
                found.append(entry("text", sig, printed.shingles, m.text, runs))
        found.extend(
            entry("pdq", value.lower(), letters=runs)
            for m, runs in zip(post.media, read, strict=True)
            for value in (m.pdq, m.pdq_mirror)  # the mirror: a flipped copy is found too
            if value
        )
        found.extend(
            entry("features", m.features, letters=runs)
            for m, runs in zip(post.media, read, strict=True)
            if m.features and _features_of(m.features)
        )
        return [e for e in found if self.learn(e)]

    def similar_texts(self, text: Fingerprint) -> list[tuple[Learned, float, float | None]]:
        """The learned texts that the fingerprint is near (see the module doc), each with
        the estimated Jaccard similarity and the containment where it counts, in the order
        of their keys."""
        keys = set(self._text_index().query(text.signature))
        # a text reached through shared bigrams alone is compared where it shares enough of
        # them to be contained: every text a rule teaches shares the rule's own words, and
        # comparing each new one with all of them made a burst of such posts quadratic
        shared = Counter(key for bigram in text.shingles for key in self._bigrams.get(bigram, ()))
        keys.update(
            key
            for key, count in shared.items()
            if count
            >= self.containment_threshold
            * min(len(text.shingles), len(self.texts[key][1].shingles))
        )
        found: list[tuple[Learned, float, float | None]] = []
        for key in sorted(keys):
            original_signature, original = self.texts[key]
            score = similarity(text.signature, original_signature)
            run, share = containment(text, frozenset(original.shingles))
            contained = share if run >= MIN_SHARED else None
            if score >= self.text_threshold or (
                contained is not None and contained >= self.containment_threshold
            ):
                found.append((original, score, contained))
        return found

    def same_letters(self, forms: Mapping[int, frozenset[int]]) -> list[tuple[Learned, float]]:
        """The learned texts read in images that share SAME_LETTERS or more of their letter
        runs with a text read in an image (its runs in each form, `letter_forms`), each with
        the share, most first."""
        counts = Counter(
            (form, key)
            for form, runs in forms.items()
            for run in runs
            for key in self._letters.get((form, run), ())
        )
        found: list[tuple[Learned, float]] = []
        for (form, key), n in counts.items():
            _, entry = self.texts[key]
            share = n / min(len(forms[form]), len(entry.letters))
            if share >= SAME_LETTERS:
                found.append((entry, share))
        return sorted(found, key=lambda pair: -pair[1])

    def near_media(self, media: Media) -> list[tuple[Learned, BankHit]]:
        """The learned PDQ hashes near the media's, each with its hit, nearest first."""
        return [(self.media[hit.value], hit) for hit in self._pdq.lookup(media)]

    def near_images(self, media: Media, *, mirror: bool = False) -> list[tuple[Learned, int]]:
        """The learned images whose local features the media's (or, with `mirror`, its
        mirror image's) match, each with its inliers, most first (none for media without
        valid features)."""
        features = _features_of(media.features_mirror if mirror else media.features)
        if features is None:
            return []
        return [(self.images[str(key)], count) for key, count in self._features.search(features)]


_K = TypeVar("_K", int, tuple[int, int])


def _discard(index: defaultdict[_K, set[str]], value: _K, key: str) -> None:
    """Take `key` off the keys of `value` in the index, and `value` with its last key."""
    index[value].discard(key)
    if not index[value]:
        del index[value]


def _features_of(encoded: str | None) -> Features | None:
    """Local features as a media item carries them; None where it has none, too few to
    match, or none that decode (the post comes from outside: a malformed value is as good as
    none)."""
    if not encoded:
        return None
    try:
        features = Features.decode(encoded)
    except ValueError:
        return None
    return features if len(features) >= CANDIDATE_MATCHES else None
