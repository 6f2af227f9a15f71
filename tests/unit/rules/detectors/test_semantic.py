"""Semantic reappearance with the bundled sentence-embedding model (USE multilingual v3):
a translation of a learned statement reappears, unrelated posts do not, and posts the gate
passes over are never embedded."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from postwatch.rules import Engine, parse_pack
from postwatch.rules.detectors.learning import Learned
from postwatch.rules.detectors.mirror import MirrorConfig, Tracker
from postwatch.rules.detectors.semantic import SemanticIndex, UniversalSentenceEncoder
from tests.conftest import SHARED_DATA
from tests.unit.rules.detectors.scenario import PACK, observe, post

STATEMENT = (
    "The Example Front announced that its fighters will attack the government buildings "
    "in the capital next week"
)
TRANSLATION = "أعلنت الجبهة أن مقاتليها سيهاجمون المباني الحكومية في العاصمة الأسبوع المقبل"


@pytest.fixture(scope="module")
def model() -> UniversalSentenceEncoder:
    return UniversalSentenceEncoder()


@pytest.fixture
def tracker() -> Tracker:
    return Tracker(MirrorConfig(embedding_model="bundled"))


def test_a_translation_of_a_learned_statement_reappears(tracker: Tracker) -> None:
    engine = Engine([parse_pack(PACK, "pack.yaml")])
    assert [a["kind"] for a in observe(tracker, engine, post("1", "front", STATEMENT))] == ["rule"]
    (alert,) = observe(tracker, engine, post("2", "someone", TRANSLATION))
    (evidence,) = alert["evidence"]
    assert (alert["kind"], evidence["type"], evidence["original_post_id"]) == (
        "reappearance",
        "embedding",
        "test:1",
    )
    assert evidence["similarity"] >= MirrorConfig().embedding_threshold


def test_translation_pairs_reach_the_threshold_and_unrelated_pairs_do_not(
    model: UniversalSentenceEncoder,
) -> None:
    with (SHARED_DATA / "parallel" / "ud_pud_en_ar.tsv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))[:300]
    scores = model.embed([r["ar"] for r in rows]) @ model.embed([r["en"] for r in rows]).T
    threshold = MirrorConfig().embedding_threshold
    assert np.mean(np.diag(scores) >= threshold) > 0.5
    assert int((scores[~np.eye(len(rows), dtype=bool)] >= threshold).sum()) == 0


class Counting:
    """The bundled model, counting the texts it embeds."""

    def __init__(self, model: UniversalSentenceEncoder) -> None:
        self.model = model
        self.embedded: list[str] = []

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.embedded += texts
        return self.model.embed(texts)


def test_posts_the_gate_passes_over_are_not_embedded(model: UniversalSentenceEncoder) -> None:

    counting = Counting(model)
    index = SemanticIndex(counting, 0.7, 8)
    learned = Learned("text", "0" * 1024, "a", "p1", "x", None, datetime.now(UTC), STATEMENT)
    index.learn(learned)
    with (SHARED_DATA / "corpus_tweets_davidson" / "labeled_data.csv").open(encoding="utf-8") as f:
        tweets = [row["tweet"] for row in csv.DictReader(f)][:2000]
    worth = [t for t in tweets if index.worth(t)]
    assert len(worth) < len(tweets) // 20
    assert all(index.similar(t) == [] for t in worth)
    assert counting.embedded == [STATEMENT, *worth]
    assert index.worth(TRANSLATION)  # another script
    assert index.worth("Our fighters attack the government buildings, says the front")


def test_a_folder_that_is_no_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no embedding model folder"):
        UniversalSentenceEncoder(tmp_path)
