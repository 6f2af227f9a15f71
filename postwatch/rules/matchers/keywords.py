"""Whole-word multi-phrase search over folded text."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import ahocorasick

__all__ = ["KeywordIndex"]


class KeywordIndex:
    """Finds every occurrence of any of the folded terms as whole words in folded text.

    Folded text has exactly one space between words and none at either end, so a whole-word
    occurrence is one bounded by a space or an end of the text on both sides.
    """

    def __init__(self, terms: Iterable[str]) -> None:
        self._automaton = ahocorasick.Automaton()
        for term in terms:
            self._automaton.add_word(term, term)
        self._empty = len(self._automaton) == 0
        if not self._empty:
            self._automaton.make_automaton()

    def find(self, text: str) -> Iterator[tuple[str, int, int]]:
        """Yield (term, start, end) for each whole-word occurrence, in order of end."""
        if self._empty:
            return
        size = len(text)
        for last, term in self._automaton.iter(text):
            start, end = last - len(term) + 1, last + 1
            if (start == 0 or text[start - 1] == " ") and (end == size or text[end] == " "):
                yield term, start, end
