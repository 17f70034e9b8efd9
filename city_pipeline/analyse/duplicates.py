"""Near-duplicate complaints: the same problem reported several times.

Two tickets are duplicates when they are close in space (`max_metres`), in time (`max_days`) and in
wording (cosine similarity of character n-gram TF-IDF vectors >= `min_similarity`; the IDF is
fitted on the texts being compared). Duplicates form
groups (a chain A~B~C is one group, even if A and C alone would not match); every ticket of a group
but the earliest gets `duplicate_of` = the earliest ticket's id.

Candidate pairs come from a KD-tree over (x metres, y metres, time scaled so `max_days` equals
`max_metres`) queried with a box (Chebyshev) radius, so only tickets in the same small space-time
box are compared, never all pairs; the text similarity of the candidates is one sparse row-wise
product.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from sklearn.neighbors import KDTree

from city_pipeline.analyse import char_ngrams
from city_pipeline.analyse.complaint_types import prepare_texts

MAX_METRES = 100.0
MAX_DAYS = 3.0
# On the real Bangkok history, re-reports of one problem mostly score >= 0.5 and different problems
# at the same spot below it (docs/analysis.md, "Complaints").
MIN_SIMILARITY = 0.5
EARTH_RADIUS_METRES = 6_371_000.0
# Character n-grams compared (sklearn's char_wb, counted by char_ngrams without a Python loop).
NGRAM_RANGE = (2, 4)


def _space_time_points(
    lat: np.ndarray, lon: np.ndarray, opened_at: pd.Series, metres_per_day: float
) -> np.ndarray:
    """Local equirectangular metres (exact enough within one city) and time in 'metres'."""
    lat_rad, lon_rad = np.radians(lat), np.radians(lon)
    x = EARTH_RADIUS_METRES * (lon_rad - np.nanmean(lon_rad)) * np.cos(np.nanmean(lat_rad))
    y = EARTH_RADIUS_METRES * (lat_rad - np.nanmean(lat_rad))
    seconds = (opened_at - opened_at.min()).dt.total_seconds().to_numpy()
    return np.column_stack([x, y, seconds / 86_400.0 * metres_per_day])


def candidate_pairs(points: np.ndarray, max_metres: float) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i < j) within the space-time box, then within `max_metres` on the ground."""
    tree = KDTree(points, metric="chebyshev")
    neighbours = tree.query_radius(points, r=max_metres)
    counts = np.fromiter((len(n) for n in neighbours), dtype=np.int64, count=len(neighbours))
    left = np.repeat(np.arange(len(points)), counts)
    right = np.concatenate(neighbours) if len(neighbours) else np.empty(0, dtype=np.int64)
    keep = left < right
    left, right = left[keep], right[keep]
    ground = np.hypot(*(points[left, :2] - points[right, :2]).T)
    close = ground <= max_metres
    return left[close], right[close]


def text_similarity(descriptions: pd.Series, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Cosine similarity of each (left, right) pair of descriptions (TF-IDF rows are
    L2-normalised). Only the descriptions in some pair are scrubbed and vectorised."""
    if len(left) == 0:
        return np.empty(0)
    involved = np.unique(np.concatenate([left, right]))
    texts = prepare_texts(descriptions.iloc[involved].reset_index(drop=True))
    vectors = char_ngrams.tfidf(list(texts), NGRAM_RANGE)
    rows_left, rows_right = np.searchsorted(involved, left), np.searchsorted(involved, right)
    return np.asarray(vectors[rows_left].multiply(vectors[rows_right]).sum(axis=1)).ravel()


def find_duplicates(
    complaints: pd.DataFrame,
    max_metres: float = MAX_METRES,
    max_days: float = MAX_DAYS,
    min_similarity: float = MIN_SIMILARITY,
) -> pd.DataFrame:
    """`complaints` has ticket_id, opened_at, lat, lon, description (the mart fct_complaints'
    names). Returns ticket_id, duplicate_of (NULL for originals and for tickets without a place,
    time or text) and similarity (to the ticket that linked it into its group)."""
    result = pd.DataFrame(
        {
            "ticket_id": complaints["ticket_id"].to_numpy(),
            # A string column even when all NULL: written to DuckDB it must stay VARCHAR.
            "duplicate_of": pd.array([None] * len(complaints), dtype="string"),
            "similarity": np.nan,
        }
    )
    opened_at = pd.to_datetime(complaints["opened_at"], utc=True, format="mixed")
    descriptions = complaints["description"].astype("string")
    # Scrubbing never empties a text, so "has text" is read off the raw description; only the
    # texts of candidate pairs are scrubbed and vectorised (text_similarity).
    usable = (
        complaints["lat"].notna().to_numpy()
        & complaints["lon"].notna().to_numpy()
        & opened_at.notna().to_numpy()
        & (descriptions.fillna("").str.strip().str.len() > 0).to_numpy(dtype=bool)
    )
    rows = np.flatnonzero(usable)
    if len(rows) < 2:
        return result
    points = _space_time_points(
        complaints["lat"].to_numpy(dtype=float)[rows],
        complaints["lon"].to_numpy(dtype=float)[rows],
        opened_at.iloc[rows].reset_index(drop=True),
        metres_per_day=max_metres / max_days,
    )
    left, right = candidate_pairs(points, max_metres)
    similarity = text_similarity(descriptions.iloc[rows].reset_index(drop=True), left, right)
    similar = similarity >= min_similarity
    left, right, similarity = left[similar], right[similar], similarity[similar]
    _link_to_earliest(result, rows, opened_at.iloc[rows], left, right, similarity)
    return result


def _link_to_earliest(
    result: pd.DataFrame,
    rows: np.ndarray,
    opened_at: pd.Series,
    left: np.ndarray,
    right: np.ndarray,
    similarity: np.ndarray,
) -> None:
    """Group the similar pairs (connected components) and point each member at the group's
    earliest ticket (ties by ticket id)."""
    n = len(rows)
    graph = coo_matrix((np.ones(len(left)), (left, right)), shape=(n, n))
    _, group = connected_components(graph, directed=False)
    order = pd.DataFrame(
        {
            "group": group,
            "opened_at": opened_at.to_numpy(),
            "ticket_id": result["ticket_id"].to_numpy()[rows],
        }
    )
    earliest = order.sort_values(["opened_at", "ticket_id"]).groupby("group")["ticket_id"].first()
    first_id = earliest.reindex(group).to_numpy()
    is_duplicate = first_id != order["ticket_id"].to_numpy()
    best = pd.Series(similarity).groupby(right).max().reindex(range(n)).to_numpy()
    best_left = pd.Series(similarity).groupby(left).max().reindex(range(n)).to_numpy()
    result.loc[rows[is_duplicate], "duplicate_of"] = first_id[is_duplicate]
    linked = np.fmax(best, best_left)
    result.loc[rows[is_duplicate], "similarity"] = linked[is_duplicate]
