"""Build the tagged Traffy history the complaint models are trained and tested on.

Two public Traffy Fondue exports (see `data/history/ORIGINS.md`) become one table of
`ticket_id, opened_at, lat, lon, text, labels`, with `labels` the citizen's problem types joined by
`|`. Tags that say nothing about the problem (see `complaint_types.UNINFORMATIVE_TAGS`) are dropped;
a ticket left without a tag keeps an empty `labels` (unlabelled: neither trained on nor scored).
Texts are scrubbed of personal data before they are written, so nothing downstream sees it.

    python -m city_pipeline.analyse.traffy_history API_CSV TEAMCHADCHART_CSV OUT_DIR
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pandas as pd

from city_pipeline.analyse.complaint_types import clean_labels, prepare_texts

TEST_SHARE_PERCENT = 20
COLUMNS = ["ticket_id", "opened_at", "lat", "lon", "text", "labels"]


def is_test_ticket(ticket_ids: pd.Series) -> pd.Series:
    """A fixed ~20 % held-out set: a ticket is in it by the hash of its id, so the split never
    depends on row order or on which other tickets exist."""
    buckets = ticket_ids.map(lambda t: int(hashlib.sha256(t.encode()).hexdigest()[:8], 16) % 100)
    return buckets < TEST_SHARE_PERCENT


def _coords(raw: pd.Series) -> pd.DataFrame:
    """Both layouts hold "lon, lat" (one as a Python list literal, one as plain text)."""
    numbers = raw.astype("string").str.extract(r"(-?\d+(?:\.\d+)?)\D+(-?\d+(?:\.\d+)?)")
    return pd.DataFrame({"lon": pd.to_numeric(numbers[0]), "lat": pd.to_numeric(numbers[1])})


def _tickets(frame: pd.DataFrame, text_column: str, tags: pd.Series) -> pd.DataFrame:
    coords = _coords(frame["coords"])
    return pd.DataFrame(
        {
            "ticket_id": frame["ticket_id"].astype("string").str.strip(),
            "opened_at": pd.to_datetime(frame["timestamp"], utc=True, format="ISO8601"),
            "last_activity": pd.to_datetime(frame["last_activity"], utc=True, format="ISO8601"),
            "lat": coords["lat"].to_numpy(),
            "lon": coords["lon"].to_numpy(),
            "text": frame[text_column],
            "tags": tags.fillna("").astype("string"),
        }
    )


def read_api_export(path: Path) -> pd.DataFrame:
    """Traffy public API rows: description text, tags comma-separated in `type`."""
    frame = pd.read_csv(path, dtype=str)
    return _tickets(frame, "description", frame["type"])


def read_teamchadchart_export(path: Path) -> pd.DataFrame:
    """The "teamchadchart" export: comment text, tags as a set literal `{ถนน,ทางเท้า}`."""
    frame = pd.read_csv(path, dtype=str, encoding="utf-8-sig")
    return _tickets(frame, "comment", frame["type"].str.strip("{}"))


def build_history(api_csv: Path, teamchadchart_csv: Path) -> pd.DataFrame:
    """One row per ticket: the latest version of a ticket seen in both files wins (API first)."""
    both = pd.concat(
        [read_api_export(api_csv), read_teamchadchart_export(teamchadchart_csv)],
        ignore_index=True,
    )
    both = both.dropna(subset=["ticket_id"])
    both = both.sort_values("last_activity", ascending=False, kind="stable", na_position="last")
    tickets = both.drop_duplicates("ticket_id").copy()
    tickets["text"] = prepare_texts(tickets["text"])
    tickets = tickets[tickets["text"].str.len() > 0]
    tickets["labels"] = clean_labels(tickets["tags"].str.split(",")).map("|".join)
    tickets["opened_at"] = tickets["opened_at"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return tickets.sort_values("ticket_id")[COLUMNS].reset_index(drop=True)


def write_history(tickets: pd.DataFrame, out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    test = is_test_ticket(tickets["ticket_id"])
    train_path = out_dir / "traffy_tagged_train.csv"
    test_path = out_dir / "traffy_tagged_test.csv"
    tickets[~test].to_csv(train_path, index=False)
    tickets[test].to_csv(test_path, index=False)
    return train_path, test_path


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    tickets = build_history(Path(args[0]), Path(args[1]))
    for path in write_history(tickets, Path(args[2])):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
