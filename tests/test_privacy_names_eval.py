"""Precision and recall of the name and plate scrubber on real, hand-labelled Traffy complaints
(tests/data/pii_names_labelled.jsonl, see tests/data/ORIGINS.md).

A labelled span counts as found when one scrubbed span covers all of it (a longer scrubbed span
still counts: over-scrubbing costs readability, not privacy). A scrubbed span is correct when it
overlaps a labelled span of its kind. Run as a script to print the figures quoted in
docs/consume.md: `python tests/test_privacy_names_eval.py`.
"""

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from city_pipeline.consume.privacy import name_spans, plate_spans, scrub_series

LABELLED = Path(__file__).parent / "data" / "pii_names_labelled.jsonl"
FINDERS = {"name": name_spans, "plate": plate_spans}


@dataclass(frozen=True)
class Score:
    labelled: int
    found: int
    scrubbed: int
    correct: int

    @property
    def recall(self) -> float:
        return self.found / self.labelled if self.labelled else 1.0

    @property
    def precision(self) -> float:
        return self.correct / self.scrubbed if self.scrubbed else 1.0


def load(split: str | None = None) -> list[dict]:
    rows = [json.loads(line) for line in LABELLED.read_text(encoding="utf-8").splitlines()]
    return [r for r in rows if split is None or r["split"] == split]


def score(rows: list[dict], label: str) -> Score:
    labelled = found = scrubbed = correct = 0
    for row in rows:
        gold = [(s["start"], s["end"]) for s in row["spans"] if s["label"] == label]
        predicted = FINDERS[label](row["text"])
        labelled += len(gold)
        found += sum(any(a <= g0 and g1 <= b for a, b in predicted) for g0, g1 in gold)
        scrubbed += len(predicted)
        correct += sum(any(a < g1 and g0 < b for g0, g1 in gold) for a, b in predicted)
    return Score(labelled, found, scrubbed, correct)


def test_labelled_set_is_real_and_consistent():
    rows = load()
    assert len(rows) >= 300
    assert {r["split"] for r in rows} == {"dev", "test"}
    for row in rows:
        for span in row["spans"]:
            assert row["text"][span["start"] : span["end"]] == span["text"]
    assert sum(len(r["spans"]) for r in rows) >= 30


# Thresholds are what the rules honestly reach on the held-out rows (docs/consume.md), rounded
# down: a change that loses a name or starts scrubbing ordinary words fails here.
@pytest.mark.parametrize(
    ("label", "min_recall", "min_precision"), [("name", 0.85, 0.85), ("plate", 0.9, 0.9)]
)
def test_scrubber_on_held_out_real_complaints(label, min_recall, min_precision):
    result = score(load("test"), label)
    assert result.labelled > 0
    assert result.recall >= min_recall, result
    assert result.precision >= min_precision, result


def test_no_labelled_span_survives_the_published_scrub():
    """The full scrub (as publishing runs it) leaves no labelled text in place, except the
    misses the score above admits."""
    rows = [r for r in load() if r["spans"]]
    import pandas as pd

    scrubbed = scrub_series(pd.Series([r["text"] for r in rows]))
    left = [s["text"] for r, text in zip(rows, scrubbed, strict=True) for s in r["spans"]
            if s["text"] in text]  # fmt: skip
    missed = sum(score(load(), label).labelled - score(load(), label).found for label in FINDERS)
    assert len(left) <= missed


def test_the_arrow_prefilter_keeps_every_real_text_the_patterns_would_change():
    import pyarrow as pa

    from city_pipeline.consume.privacy import scrub_array, scrub_text

    texts = [r["text"] for r in load()]
    expected = [scrub_text(t) for t in texts]
    assert sum(e != t for e, t in zip(expected, texts, strict=True)) >= 30
    assert scrub_array(pa.array(texts)).to_pylist() == expected


if __name__ == "__main__":
    for split in ("dev", "test", None):
        for label in FINDERS:
            s = score(load(split), label)
            print(
                f"{split or 'all':4} {label:5} labelled={s.labelled:3} found={s.found:3} "
                f"scrubbed={s.scrubbed:3} correct={s.correct:3} "
                f"recall={s.recall:.2f} precision={s.precision:.2f}"
            )
