"""Which problem types a Traffy complaint is about, from its text alone.

A multi-label classifier: character n-gram TF-IDF (`char_wb`, so Thai text needs no word
segmentation) and one logistic regression per problem type. Per ticket it gives the most likely
type (`predicted_type`), that type's probability (`confidence`) and `type_disagrees`: the citizen
tagged the ticket, the model's top type is not among the tags, and the model is confident
(`confidence >= DISAGREEMENT_CONFIDENCE`). Such tickets are candidates for re-routing.

Tags that say nothing about the problem (`UNINFORMATIVE_TAGS`) are not labels: a ticket with only
those is unlabelled, so it is neither trained on nor scored. Texts are scrubbed of personal data
(`consume.privacy`) before the vectoriser sees them, so no ID, phone number or e-mail can reach a
fitted vocabulary or a model card.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterable, Sequence
from itertools import product
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import KFold
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MultiLabelBinarizer

from city_pipeline.analyse import char_ngrams
from city_pipeline.consume.privacy import scrub_series
from city_pipeline.settings import PROJECT_ROOT

# Complaint/suggestion/question/other and the mart's "not given": kinds of ticket, not problems.
UNINFORMATIVE_TAGS = frozenset({"ร้องเรียน", "เสนอแนะ", "สอบถาม", "อื่นๆ", "ไม่ระบุ", ""})
LABEL_SEPARATOR = "|"

# Chosen by 3-fold cross-validation on the training part only (docs/analysis.md, "Complaints").
DEFAULT_PARAMS = {"ngram_range": (1, 3), "C": 100.0, "label_threshold": 0.2}
# At this confidence the top type was among the citizen's tags for 95.6 % of the cross-validated
# training tickets (78 % of them reach it): a disagreement there is worth a human look.
DISAGREEMENT_CONFIDENCE = 0.8


# The real tagged Traffy tickets shipped with the repository (data/history/ORIGINS.md).
HISTORY_DIR = PROJECT_ROOT / "data" / "history"
HISTORY_TRAIN = HISTORY_DIR / "traffy_tagged_train.csv"
HISTORY_TEST = HISTORY_DIR / "traffy_tagged_test.csv"


# -- inputs -------------------------------------------------------------------------------------


def prepare_texts(texts: Iterable[str | None]) -> pd.Series:
    """Scrub personal data, then collapse whitespace; missing text becomes ""."""
    series = pd.Series(texts, dtype="string") if not isinstance(texts, pd.Series) else texts
    scrubbed = scrub_series(series.astype("string"))
    return scrubbed.fillna("").str.replace(r"\s+", " ", regex=True).str.strip().astype(str)


def clean_labels(tag_lists: pd.Series) -> pd.Series:
    """Lists of raw tags -> sorted, distinct, informative labels (possibly empty lists)."""
    tags = tag_lists.reset_index(drop=True).explode().astype(object)
    tags = tags.map(lambda tag: tag.strip() if isinstance(tag, str) else None)
    tags = tags[tags.notna() & ~tags.isin(UNINFORMATIVE_TAGS)]
    pairs = pd.DataFrame({"row": tags.index, "tag": tags.to_numpy()}).drop_duplicates()
    grouped = pairs.sort_values(["row", "tag"]).groupby("row")["tag"].apply(list)
    cleaned = pd.Series([[] for _ in range(len(tag_lists))], dtype=object)
    cleaned.loc[grouped.index] = grouped
    cleaned.index = tag_lists.index
    return cleaned


def parse_labels(joined: pd.Series) -> pd.Series:
    """`a|b` strings (empty or missing = unlabelled) -> cleaned label lists."""
    return clean_labels(joined.fillna("").astype(str).str.split(LABEL_SEPARATOR, regex=False))


# -- model --------------------------------------------------------------------------------------


def _pipeline(ngram_range: tuple[int, int], C: float) -> Pipeline:
    vectoriser = TfidfVectorizer(
        analyzer="char_wb", ngram_range=tuple(ngram_range), sublinear_tf=True, min_df=2
    )
    classifier = OneVsRestClassifier(LogisticRegression(C=C, max_iter=2000))
    return Pipeline([("tfidf", vectoriser), ("clf", classifier)])


def _labelled(texts: Sequence[str], labels: Sequence[Sequence[str]]) -> tuple[list[str], list]:
    pairs = [(t, list(ls)) for t, ls in zip(texts, labels, strict=True) if len(ls) > 0]
    if not pairs:
        raise ValueError("no labelled tickets to train on")
    return [t for t, _ in pairs], [ls for _, ls in pairs]


def train(
    texts: Sequence[str], labels: Sequence[Sequence[str]], params: dict | None = None
) -> Pipeline:
    """Fit on the labelled tickets (empty label lists are skipped). `texts` must already be
    prepared (`prepare_texts`). The result is a plain scikit-learn Pipeline (skops-serialisable)
    carrying `label_names_` and `label_threshold_`."""
    params = {**DEFAULT_PARAMS, **(params or {})}
    texts, labels = _labelled(list(texts), list(labels))
    binarizer = MultiLabelBinarizer()
    targets = binarizer.fit_transform(labels)
    model = _pipeline(params["ngram_range"], params["C"])
    if targets.shape[1] == 1:  # one type only: every ticket is that type
        targets = np.hstack([targets, np.zeros_like(targets)])
        binarizer.classes_ = np.append(binarizer.classes_, "")
    with single_threaded():
        model.fit(texts, targets)
    model.label_names_ = np.asarray(binarizer.classes_, dtype=object)
    model.label_threshold_ = float(params["label_threshold"])
    return model


# Texts vectorised at once: bounds the sparse TF-IDF matrix of a large mart.
PREDICT_BATCH = 20_000


def predict_proba(model: Pipeline, texts: Sequence[str]) -> np.ndarray:
    """Probability per (ticket, type); columns follow `model.label_names_`."""
    texts = list(texts)
    if not texts:
        return np.zeros((0, len(model.label_names_)))
    batches = range(0, len(texts), PREDICT_BATCH)
    with single_threaded():
        return np.vstack([_batch_proba(model, texts[i : i + PREDICT_BATCH]) for i in batches])


def _batch_proba(model: Pipeline, texts: list[str]) -> np.ndarray:
    """`model.predict_proba(texts)`, with the TF-IDF step counted by `char_ngrams` (the same
    matrix, without sklearn's Python n-gram loop)."""
    vectoriser = model.steps[0][1]
    if len(model.steps) != 2 or getattr(vectoriser, "analyzer", None) != "char_wb":
        return model.predict_proba(texts)
    return model.steps[1][1].predict_proba(char_ngrams.transform(vectoriser, texts))


def single_threaded():
    """One BLAS thread: 21 small logistic regressions gain nothing from threads, and on a busy
    machine threads spin against each other (measured: training 8.6 s wall with one thread,
    55 s with the default threads, 2 shared cores under load)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def _label_sets(probabilities: np.ndarray, names: np.ndarray, threshold: float) -> list[list[str]]:
    """Every type above the threshold, and always the top one (each ticket has some problem)."""
    chosen = probabilities >= threshold
    chosen[np.arange(len(probabilities)), probabilities.argmax(axis=1)] = True
    return [list(names[row]) for row in chosen]


def predict(
    model: Pipeline,
    texts: Sequence[str],
    citizen_labels: Sequence[Sequence[str]] | None = None,
    disagreement_confidence: float = DISAGREEMENT_CONFIDENCE,
) -> pd.DataFrame:
    """One row per text: predicted_type, confidence, predicted_labels (list) and type_disagrees
    (False where the citizen gave no informative type)."""
    probabilities = predict_proba(model, texts)
    names = model.label_names_
    top = probabilities.argmax(axis=1)
    result = pd.DataFrame(
        {
            "predicted_type": names[top].astype(str),
            "confidence": probabilities[np.arange(len(top)), top],
            "predicted_labels": _label_sets(probabilities, names, model.label_threshold_),
        }
    )
    if citizen_labels is None:
        result["type_disagrees"] = False
        return result
    given = clean_labels(pd.Series(list(citizen_labels), dtype=object)).explode().dropna()
    positions = given.index.to_numpy(dtype=np.int64)
    hits = given.to_numpy() == result["predicted_type"].to_numpy()[positions]
    agrees = np.zeros(len(result), dtype=bool)
    tagged = np.zeros(len(result), dtype=bool)
    tagged[positions] = True
    agrees[positions[hits]] = True
    result["type_disagrees"] = tagged & ~agrees & (result["confidence"] >= disagreement_confidence)
    return result


def classify_complaints(model: Pipeline, complaints: pd.DataFrame) -> pd.DataFrame:
    """For the mart fct_complaints (columns ticket_id, description, categories): ticket_id,
    predicted_type, confidence, type_disagrees. Descriptions are scrubbed here."""
    texts = prepare_texts(complaints["description"])
    predicted = predict(model, texts, list(complaints["categories"].map(_as_list)))
    predicted.insert(0, "ticket_id", complaints["ticket_id"].to_numpy())
    return predicted.drop(columns="predicted_labels")


def _as_list(value: object) -> list:
    """A mart list cell (list, numpy array from Arrow, or NULL) as a list."""
    return list(value) if pd.api.types.is_list_like(value) else []


# -- storage --------------------------------------------------------------------------------------

# skops stores a dict item by item: the n-gram vocabulary made loading take 1-3 s. Stored as one
# numpy array of terms (in column order) it loads in milliseconds (docs/analysis.md, "Cost").
STORED_TERMS = "vocabulary_terms_"


def for_storage(model: Pipeline) -> Pipeline:
    """A copy of `model` whose vectoriser keeps its vocabulary as an array of terms."""
    vectoriser = copy.copy(model.steps[0][1])
    vocabulary = vectoriser.__dict__.pop("vocabulary_")
    terms = np.empty(len(vocabulary), dtype=object)
    terms[list(vocabulary.values())] = list(vocabulary.keys())
    setattr(vectoriser, STORED_TERMS, terms.astype(str))
    stored = copy.copy(model)
    stored.steps = [(model.steps[0][0], vectoriser), *model.steps[1:]]
    return stored


def from_storage(model: Pipeline) -> Pipeline:
    """The vocabulary dict back from the stored terms (a model stored whole is returned as is)."""
    vectoriser = model.steps[0][1]
    terms = vectoriser.__dict__.pop(STORED_TERMS, None)
    if terms is not None:
        vectoriser.vocabulary_ = dict(zip(terms.tolist(), range(len(terms)), strict=True))
    return model


# -- scoring ------------------------------------------------------------------------------------


def score(
    truth: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]], top: Sequence[str]
) -> dict:
    """top1_accuracy (the top type is one of the true ones), micro F1 over all types, macro F1
    over the types present in the truth; unlabelled truths are left out."""
    keep = [i for i, t in enumerate(truth) if len(t) > 0]
    truth = [list(truth[i]) for i in keep]
    predicted = [list(predicted[i]) for i in keep]
    top = [top[i] for i in keep]
    if not truth:
        return {"top1_accuracy": None, "micro_f1": None, "macro_f1": None, "n": 0}
    binarizer = MultiLabelBinarizer().fit(truth + predicted)
    y_true, y_pred = binarizer.transform(truth), binarizer.transform(predicted)
    present = np.flatnonzero(y_true.sum(axis=0) > 0)
    return {
        "top1_accuracy": float(np.mean([t in ls for t, ls in zip(top, truth, strict=True)])),
        "micro_f1": float(f1_score(y_true, y_pred, average="micro", zero_division=0)),
        "macro_f1": float(
            f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)
        ),
        "n": len(truth),
    }


def majority_label(labels: Sequence[Sequence[str]]) -> str:
    counts = pd.Series([label for ls in labels for label in ls], dtype=object).value_counts()
    return str(counts.index[0])


def evaluate(train_df: pd.DataFrame, test_df: pd.DataFrame, params: dict | None = None) -> dict:
    """Train on `train_df`, score on `test_df` (columns `text`, `labels` as `a|b` strings; empty
    test labels are not scored). The model's metrics are top-level, the majority-class baseline's
    under "baseline"."""
    return train_and_evaluate(train_df, test_df, params)[1]


def train_and_evaluate(
    train_df: pd.DataFrame, test_df: pd.DataFrame, params: dict | None = None
) -> tuple[Pipeline, dict]:
    """`evaluate`, also returning the model it scored (trained on `train_df` only)."""
    train_texts, test_texts = prepare_texts(train_df["text"]), prepare_texts(test_df["text"])
    train_labels, test_labels = parse_labels(train_df["labels"]), parse_labels(test_df["labels"])
    started = time.perf_counter()
    model = train(train_texts, train_labels, params)
    seconds = time.perf_counter() - started
    predicted = predict(model, test_texts, list(test_labels))
    majority = majority_label(list(train_labels))
    truth = list(test_labels)
    confident = (predicted["confidence"] >= DISAGREEMENT_CONFIDENCE).to_numpy()
    result = score(truth, list(predicted["predicted_labels"]), list(predicted["predicted_type"]))
    result |= {
        "baseline": {
            "majority_type": majority,
            **score(truth, [[majority]] * len(truth), [majority] * len(truth)),
        },
        "confident_top1_accuracy": score(
            [t for t, c in zip(truth, confident, strict=True) if c],
            [p for p, c in zip(predicted["predicted_labels"], confident, strict=True) if c],
            list(predicted["predicted_type"][confident]),
        )["top1_accuracy"],
        # Re-reported tickets can repeat a training text word for word: the score without them.
        "unseen_text_top1_accuracy": _unseen_top1(train_texts, test_texts, truth, predicted),
        "n_train": int(sum(len(ls) > 0 for ls in train_labels)),
        "types": len(model.label_names_),
        "train_seconds": round(seconds, 2),
    }
    return model, result


METRICS = ("top1_accuracy", "micro_f1", "macro_f1")


def _unseen_top1(
    train_texts: pd.Series, test_texts: pd.Series, truth: list, predicted: pd.DataFrame
) -> float | None:
    unseen = ~test_texts.isin(set(train_texts)).to_numpy()
    return score(
        [t for t, u in zip(truth, unseen, strict=True) if u],
        [p for p, u in zip(predicted["predicted_labels"], unseen, strict=True) if u],
        list(predicted["predicted_type"][unseen]),
    )["top1_accuracy"]


def tune(
    texts: Sequence[str],
    labels: Sequence[Sequence[str]],
    grid: dict | None = None,
    folds: int = 3,
    seed: int = 0,
) -> pd.DataFrame:
    """Cross-validate parameter combinations on training tickets only (never the test set): one
    row per combination with the mean top-1 accuracy and micro/macro F1 over the folds."""
    grid = grid or {
        "ngram_range": [(1, 3), (2, 4)],
        "C": [3.0, 10.0, 30.0],
        "label_threshold": [0.3, 0.4, 0.5],
    }
    texts, labels = _labelled(list(texts), list(labels))
    splits = list(KFold(folds, shuffle=True, random_state=seed).split(texts))
    rows = []
    for ngram_range, C in product(grid["ngram_range"], grid["C"]):
        fold_probabilities = []
        for fit_rows, held_rows in splits:
            model = train(
                [texts[i] for i in fit_rows],
                [labels[i] for i in fit_rows],
                {"ngram_range": ngram_range, "C": C},
            )
            held_texts = [texts[i] for i in held_rows]
            fold_probabilities.append((model, held_rows, predict_proba(model, held_texts)))
        for threshold in grid["label_threshold"]:
            scores = [
                score(
                    [labels[i] for i in held],
                    _label_sets(proba, model.label_names_, threshold),
                    list(model.label_names_[proba.argmax(axis=1)]),
                )
                for model, held, proba in fold_probabilities
            ]
            rows.append(
                {"ngram_range": ngram_range, "C": C, "label_threshold": threshold}
                | {k: float(np.mean([s[k] for s in scores])) for k in METRICS}
            )
    return pd.DataFrame(rows).sort_values(["top1_accuracy", "micro_f1"], ascending=False)


# -- labelled CSV files (`city-pipeline evaluate complaints`) ------------------------------------

REQUIRED_COLUMNS = ("text", "labels")


class LabelledCsvError(ValueError):
    """A labelled CSV that cannot be used; the message names the file and the column."""

    def __init__(self, path: Path | str, reason: str, column: str | None = None):
        where = f"{path}" + (f", column {column!r}" if column else "")
        super().__init__(f"{where}: {reason}")


def read_labelled_csv(path: Path | str, require_labels: bool = False) -> pd.DataFrame:
    """A CSV with (at least) columns `text` and `labels`; other columns are ignored."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except FileNotFoundError:
        raise LabelledCsvError(path, "no such file") from None
    except pd.errors.EmptyDataError:
        raise LabelledCsvError(path, "empty file, expected a header text,labels") from None
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LabelledCsvError(path, f"unreadable CSV ({reason})") from None
    for column in REQUIRED_COLUMNS:
        if column not in frame.columns:
            found = ", ".join(map(str, frame.columns))
            raise LabelledCsvError(path, f"missing (columns found: {found})", column)
    if frame.empty:
        raise LabelledCsvError(path, "no rows", "text")
    if require_labels and not parse_labels(frame["labels"]).map(len).any():
        raise LabelledCsvError(path, "no row has a problem type", "labels")
    return frame[list(REQUIRED_COLUMNS)]


def train_on_history(path: Path | str = HISTORY_TRAIN, params: dict | None = None) -> Pipeline:
    """The classifier trained on a labelled CSV (default: the shipped training part)."""
    frame = read_labelled_csv(path, require_labels=True)
    return train(prepare_texts(frame["text"]), parse_labels(frame["labels"]), params)


def evaluate_files(train_path: Path | str, test_path: Path | str) -> dict:
    """`evaluate` on two labelled CSV files (raises LabelledCsvError naming file and column)."""
    train_df = read_labelled_csv(train_path, require_labels=True)
    test_df = read_labelled_csv(test_path)
    return evaluate(train_df, test_df)
