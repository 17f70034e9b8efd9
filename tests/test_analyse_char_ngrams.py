"""char_ngrams counts exactly sklearn's char_wb n-grams, on the real tagged Traffy texts and on
edge cases (empty text, one-letter words, upper case, control characters, odd whitespace)."""

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from city_pipeline.analyse import char_ngrams, complaint_types

EDGE_CASES = ["", "   ", "a", "A b  C", "x\ty\nz", "\x01\x02 z", "ถนน ชำรุด", "น้ำท่วม"]


@pytest.fixture(scope="module")
def texts() -> list[str]:
    frame = pd.read_csv(complaint_types.HISTORY_TEST, dtype=str, keep_default_na=False)
    return [*complaint_types.prepare_texts(frame["text"]), *EDGE_CASES]


@pytest.mark.parametrize("ngram_range", [(2, 4), (1, 3)])
def test_tfidf_gives_sklearns_similarities(texts, ngram_range):
    ours = char_ngrams.tfidf(texts, ngram_range)
    sklearn = TfidfVectorizer(analyzer="char_wb", ngram_range=ngram_range, sublinear_tf=True)
    theirs = sklearn.fit_transform(texts)
    assert ours.shape == theirs.shape  # the same n-grams (columns are ordered differently)
    np.testing.assert_allclose((ours @ ours.T).toarray(), (theirs @ theirs.T).toarray(), atol=1e-12)


@pytest.mark.parametrize("ngram_range", [(2, 4), (1, 3)])
def test_transform_gives_sklearns_matrix_exactly(texts, ngram_range):
    fitted = TfidfVectorizer(
        analyzer="char_wb", ngram_range=ngram_range, sublinear_tf=True, min_df=2
    ).fit(texts[:300])  # the rest holds n-grams outside the vocabulary
    ours, theirs = char_ngrams.transform(fitted, texts), fitted.transform(texts)
    assert ours.shape == theirs.shape and theirs.nnz > 0
    assert np.array_equal(ours.indptr, theirs.indptr)
    assert np.array_equal(ours.indices, theirs.indices)
    assert np.array_equal(ours.data, theirs.data)


def test_too_many_distinct_characters_fall_back_to_sklearn():
    many = ["".join(chr(0x10000 + i * 40 + k) for k in range(40)) for i in range(1250)]
    ours = char_ngrams.tfidf(many, (2, 4))
    theirs = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True)
    assert (ours != theirs.fit_transform(many)).nnz == 0
