"""scikit-learn's `char_wb` character n-grams, counted with numpy instead of a Python loop.

`TfidfVectorizer(analyzer="char_wb")` builds every n-gram of every text as a Python string
(≈ 1 ms per Traffy description): at Bangkok scale that was most of the nightly complaint time.
Here the texts become one array of code points and every n-gram one integer key, so counting is a
few vectorised passes. The n-grams are exactly sklearn's: lower-cased text split on whitespace,
each word padded with one space on each side, every substring of length n (min_n <= n <= max_n)
inside a padded word that is at least n long.

- `tfidf(texts, ngram_range)`: what `TfidfVectorizer(analyzer="char_wb", ngram_range,
  sublinear_tf=True).fit_transform(texts)` gives, up to the order of the columns.
- `transform(vectoriser, texts)`: what a fitted char_wb `TfidfVectorizer.transform(texts)` gives
  (same columns, same values).
Both fall back to scikit-learn when the texts hold too many distinct characters for 64-bit keys.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix
from sklearn.feature_extraction.text import TfidfTransformer, TfidfVectorizer

SPACE = ord(" ")
KEY_LIMIT = 2**62


def _padded(texts: Sequence[str]) -> list[str]:
    """Each text as sklearn's char_wb sees it: lower-cased words, each padded with one space;
    consecutive padded words therefore meet at a double space ("" for a text without words)."""
    padded = []
    for text in texts:
        words = text.lower().split()
        padded.append(" " + "  ".join(words) + " " if words else "")
    return padded


def _code_points(strings: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The code points of all strings end to end, and each string's length."""
    joined = "".join(strings)
    codes = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    lengths = np.fromiter((len(s) for s in strings), dtype=np.int64, count=len(strings))
    return codes, lengths


def _ngram_keys(
    symbols: np.ndarray, lengths: np.ndarray, ngram_range: tuple[int, int], base: int
) -> tuple[np.ndarray, np.ndarray]:
    """(text index, key) of every n-gram of the padded texts (`symbols`: 1 is a space, see
    `_symbolise`; as symbols are >= 1, n-grams of different lengths never share a key). A padded
    word starts where a text starts and where two spaces meet; an n-gram must begin and end in
    the same padded word."""
    n_chars = len(symbols)
    text_of_char = np.repeat(np.arange(len(lengths)), lengths)
    starts = np.zeros(n_chars, dtype=bool)
    starts[(np.cumsum(lengths) - lengths)[lengths > 0]] = True
    space = symbols == 1
    starts[1:] |= space[1:] & space[:-1]
    word = np.cumsum(starts)
    texts_out, keys_out = [], []
    for n in range(ngram_range[0], ngram_range[1] + 1):
        if n_chars < n:
            break
        first = np.flatnonzero(word[: n_chars - n + 1] == word[n - 1 :])
        key = np.zeros(len(first), dtype=np.int64)
        for k in range(n - 1, -1, -1):
            key = key * base + symbols[first + k]
        texts_out.append(text_of_char[first])
        keys_out.append(key)
    if not keys_out:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    return np.concatenate(texts_out), np.concatenate(keys_out)


def _symbolise(codes: np.ndarray, alphabet: np.ndarray) -> np.ndarray:
    """Code points -> 1..len(alphabet): 1 + their rank in the sorted `alphabet` (which holds them
    all and the space), with the space's symbol and 1 swapped so a space is always 1."""
    symbols = (np.searchsorted(alphabet, codes) + 1).astype(np.int64)
    space = int(np.searchsorted(alphabet, SPACE)) + 1
    swap = np.arange(len(alphabet) + 1)
    swap[[1, space]] = swap[[space, 1]]
    return swap[symbols]


def _distinct(codes: np.ndarray) -> np.ndarray:
    return np.sort(pd.unique(codes))


def _fits(alphabet: np.ndarray, max_n: int) -> bool:
    return (len(alphabet) + 1) ** max_n < KEY_LIMIT


def count_matrix(
    texts: Sequence[str], ngram_range: tuple[int, int]
) -> tuple[csr_matrix, np.ndarray, np.ndarray] | None:
    """Raw n-gram counts (texts × distinct n-grams, columns in order of first appearance), the
    column keys and the alphabet; None when the characters are too many for 64-bit keys."""
    codes, lengths = _code_points(_padded(texts))
    alphabet = np.union1d(_distinct(codes), [SPACE]).astype(np.uint32)
    if not _fits(alphabet, ngram_range[1]):
        return None
    rows, keys = _ngram_keys(_symbolise(codes, alphabet), lengths, ngram_range, len(alphabet) + 1)
    column, columns = pd.factorize(keys)  # hashing: ~4x faster than np.unique's sort
    counts = csr_matrix(
        (np.ones(len(keys), dtype=np.int64), (rows, column)), shape=(len(texts), len(columns))
    )
    counts.sum_duplicates()
    return counts, columns, alphabet


def tfidf(texts: Sequence[str], ngram_range: tuple[int, int]) -> csr_matrix:
    """L2-normalised sublinear TF-IDF of the texts' char_wb n-grams, IDF fitted on `texts`."""
    counted = count_matrix(texts, ngram_range)
    if counted is None:
        vectoriser = TfidfVectorizer(analyzer="char_wb", ngram_range=ngram_range, sublinear_tf=True)
        return vectoriser.fit_transform(texts)
    return TfidfTransformer(sublinear_tf=True).fit_transform(counted[0])


def transform(vectoriser: TfidfVectorizer, texts: Sequence[str]) -> csr_matrix:
    """A fitted char_wb `vectoriser`'s `transform(texts)`, counted here; n-grams outside its
    vocabulary are dropped, as sklearn drops them."""
    texts = list(texts)
    ngram_range = tuple(vectoriser.ngram_range)
    terms = _vocabulary_terms(vectoriser)
    term_codes, term_lengths = _code_points(terms)
    codes, lengths = _code_points(_padded(texts))
    alphabet = np.union1d(np.union1d(_distinct(codes), _distinct(term_codes)), [SPACE])
    alphabet = alphabet.astype(np.uint32)
    if not _fits(alphabet, ngram_range[1]) or not _plain_char_wb(vectoriser):
        return vectoriser.transform(texts)
    base = len(alphabet) + 1
    rows, keys = _ngram_keys(_symbolise(codes, alphabet), lengths, ngram_range, base)
    term_keys = _term_keys(_symbolise(term_codes, alphabet), term_lengths, base)
    order = np.argsort(term_keys)
    position = np.searchsorted(term_keys, keys, sorter=order).clip(max=len(order) - 1)
    known = term_keys[order[position]] == keys
    counts = csr_matrix(
        (np.ones(int(known.sum()), dtype=np.int64), (rows[known], order[position[known]])),
        shape=(len(texts), len(terms)),
    )
    counts.sum_duplicates()
    counts.sort_indices()
    return vectoriser._tfidf.transform(counts, copy=False)


def _plain_char_wb(vectoriser: TfidfVectorizer) -> bool:
    """Whether the vectoriser's n-grams are the ones counted here (no custom preprocessing)."""
    v = vectoriser
    return (
        v.analyzer == "char_wb" and v.lowercase is True and v.preprocessor is None
        and v.strip_accents is None and not v.binary
    )  # fmt: skip


def _vocabulary_terms(vectoriser: TfidfVectorizer) -> list[str]:
    """The vocabulary's terms in column order."""
    terms = [""] * len(vectoriser.vocabulary_)
    for term, column in vectoriser.vocabulary_.items():
        terms[column] = term
    return terms


def _term_keys(symbols: np.ndarray, lengths: np.ndarray, base: int) -> np.ndarray:
    """The key of each whole term (a term is one n-gram)."""
    keys = np.zeros(len(lengths), dtype=np.int64)
    starts = np.cumsum(lengths) - lengths
    for k in range(int(lengths.max(initial=0)) - 1, -1, -1):
        has = lengths > k
        keys[has] = keys[has] * base + symbols[starts[has] + k]
    return keys
