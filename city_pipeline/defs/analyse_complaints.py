"""Complaint assets of the Analyse stage (group `analyse`):

    data/history tagged tickets ──> analyse/complaint_type_model (weekly retrain, skops + card)
    marts/fct_complaints ─────┬──────> analyse/complaint_insights (nightly: predicted type,
                              │                                  confidence, duplicate_of)
                              └──────> analyse/complaint_surges (nightly; alerts new surges)

Nightly work is incremental so it stays within seconds at Bangkok scale: only tickets that are new
or changed since they were last classified go through the classifier; near-duplicates are
recomputed over the tickets opened in the last `RECENT_DAYS` days (a ticket's duplicate status is
settled once the tickets of the following `duplicates.MAX_DAYS` days are in); surges over the last
`RECENT_DAYS` days with their trailing baseline. A first run (empty tables) covers all history.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
import duckdb
import pandas as pd

from city_pipeline.analyse import complaint_types, duplicates, store, surge
from city_pipeline.consume.warehouse import connect_read_only
from city_pipeline.defs import gates
from city_pipeline.defs.analyse import GROUP, SCHEMA, guarded, output_check, replace_table
from city_pipeline.defs.consume import WAREHOUSE_POOL, markdown_preview
from city_pipeline.defs.resources import CityResource
from city_pipeline.settings import Settings

MODEL_NAME = "complaint_types"
TYPE_MODEL_KEY = dg.AssetKey([SCHEMA, "complaint_type_model"])
INSIGHTS_KEY = dg.AssetKey([SCHEMA, "complaint_insights"])
SURGES_KEY = dg.AssetKey([SCHEMA, "complaint_surges"])
COMPLAINTS_KEY = dg.AssetKey(["marts", "fct_complaints"])
TYPE_MODEL_CHECK = "beats_baseline_and_predecessor"
# Days recomputed each night for duplicates and surges (more than duplicates.MAX_DAYS, so late
# captures are still linked).
RECENT_DAYS = 14
# Surges dated this many days before the newest complaint day still raise an alert; older ones
# (e.g. found by a first run over all history) are published but page nobody.
ALERT_DAYS = 2


# -- weekly: the problem-type classifier -------------------------------------------------------


def judge_types(new: store.ModelCard, old: store.ModelCard | None) -> tuple[bool, list[str]]:
    """A new classifier goes into service only if it beats the majority-type baseline on the
    held-out tickets and is not worse than the version in service (top-1 accuracy)."""
    reasons = []
    top1 = new.metrics.get("top1_accuracy") or 0.0
    baseline = (new.metrics.get("baseline") or {}).get("top1_accuracy") or 0.0
    if top1 <= baseline:
        reasons.append(
            f"top-1 accuracy {top1:.3f} does not beat the majority type's {baseline:.3f}"
        )
    old_top1 = (old.metrics.get("top1_accuracy") or 0.0) if old else 0.0
    if old is not None and top1 < old_top1:
        reasons.append(f"top-1 accuracy {top1:.3f} is below version {old.version}'s {old_top1:.3f}")
    return not reasons, reasons


def train_types(settings: Settings, train_path=None, test_path=None):
    """Train on the tagged history's training part, score on its held-out part, store a new
    version with its card, and put it in service unless `judge_types` objects."""
    train_df = complaint_types.read_labelled_csv(
        train_path or complaint_types.HISTORY_TRAIN, require_labels=True
    )
    test_df = complaint_types.read_labelled_csv(test_path or complaint_types.HISTORY_TEST)
    model, metrics = complaint_types.train_and_evaluate(train_df, test_df)
    opened = pd.read_csv(train_path or complaint_types.HISTORY_TRAIN, usecols=["opened_at"])
    scrubbed = pd.DataFrame(  # the card hashes what the model saw: scrubbed text, cleaned labels
        {
            "text": complaint_types.prepare_texts(train_df["text"]),
            "labels": complaint_types.parse_labels(train_df["labels"]).map("|".join),
        }
    )
    card = store.ModelCard(
        model=MODEL_NAME,
        version=store.new_version(),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        training_window={
            "start": str(opened["opened_at"].min())[:10],
            "end": str(opened["opened_at"].max())[:10],
        },
        rows=int(metrics["n_train"]),
        training_sha256=store.frame_sha256(scrubbed),
        features=["char_wb TF-IDF n-grams of the scrubbed description"],
        metrics=metrics,
        parameters={
            "estimator": "TfidfVectorizer(char_wb) + OneVsRestClassifier(LogisticRegression)",
            **{
                k: list(v) if isinstance(v, tuple) else v
                for k, v in complaint_types.DEFAULT_PARAMS.items()
            },
            "disagreement_confidence": complaint_types.DISAGREEMENT_CONFIDENCE,
            "uninformative_tags": sorted(complaint_types.UNINFORMATIVE_TAGS - {""}),
            "labels": [str(n) for n in model.label_names_],
        },
    )
    current = store.current_version(settings.models_dir, MODEL_NAME)
    old = (
        store.read_card(settings.models_dir / MODEL_NAME / current / store.CARD)
        if current
        else None
    )
    accepted, reasons = judge_types(card, old)
    store.save(settings.models_dir, card, model, make_current=accepted or old is None)
    return card, old, accepted, reasons


@dg.asset(
    key=TYPE_MODEL_KEY,
    group_name=GROUP,
    kinds={"scikitlearn", "python"},
    check_specs=[dg.AssetCheckSpec(TYPE_MODEL_CHECK, asset=TYPE_MODEL_KEY)],
    freshness_policy=dg.FreshnessPolicy.time_window(
        fail_window=timedelta(days=8), warn_window=timedelta(days=7, hours=6)
    ),
    description="ตัวแบบจำแนกประเภทเรื่องร้องเรียน · Complaint problem-type classifier (char n-gram "
    "TF-IDF + logistic regression), retrained weekly on the real tagged Traffy tickets in "
    "data/history and scored on the held-out part; skops + model card under "
    "<data dir>/models/complaint_types/. A version not beating the majority type or the one in "
    "service is kept but not put in service (the check warns).",
)
def complaint_type_model(context: dg.AssetExecutionContext, city: CityResource):
    settings = city.settings()
    card, old, accepted, reasons = train_types(settings)
    in_service = store.current_version(settings.models_dir, MODEL_NAME)
    context.log.info(f"classifier {card.version}: top-1 {card.metrics['top1_accuracy']:.3f}")
    baseline = card.metrics["baseline"]
    yield dg.MaterializeResult(
        metadata={
            "version": card.version,
            "in_service": in_service,
            "dagster/row_count": card.rows,
            **{k: card.metrics[k] for k in ("top1_accuracy", "micro_f1", "macro_f1", "n")},
            "baseline_top1_accuracy": baseline["top1_accuracy"],
            "baseline_macro_f1": baseline["macro_f1"],
            "train_seconds": card.metrics["train_seconds"],
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=TYPE_MODEL_CHECK,
                passed=accepted,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={
                    "reasons": "; ".join(reasons)
                    or "beats the majority type and the previous version",
                    "previous_version": old.version if old else "none",
                },
            )
        ],
    )


# -- nightly: types and duplicates per ticket --------------------------------------------------


def table_exists(connection: duckdb.DuckDBPyConnection, name: str) -> bool:
    query = (
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?"
    )
    return connection.execute(query, [SCHEMA, name]).fetchone()[0] > 0


def changed_tickets(settings: Settings) -> pd.DataFrame:
    """Tickets new or changed (a newer `last_seen_date`) since they were last classified."""
    columns = "f.ticket_id, f.description, f.categories, f.opened_date, f.last_seen_date"
    with connect_read_only(settings.warehouse_path) as connection:
        if not table_exists(connection, "complaint_predictions"):
            return connection.execute(f"select {columns} from marts.fct_complaints f").df()
        return connection.execute(
            f"select {columns} from marts.fct_complaints f "
            f'left join "{SCHEMA}".complaint_predictions p using (ticket_id) '
            "where p.ticket_id is null or f.last_seen_date > p.last_seen_date"
        ).df()


def recent_tickets(
    settings: Settings, columns: str, own_table: str, extra_days: int = 0
) -> pd.DataFrame:
    """Tickets opened in the last RECENT_DAYS (+ extra_days) days before the newest one; all of
    them on a first run (`own_table` not written yet)."""
    with connect_read_only(settings.warehouse_path) as connection:
        since = ""
        if table_exists(connection, own_table):
            since = (
                "where opened_date > (select max(opened_date) from marts.fct_complaints) "
                f"- interval {RECENT_DAYS + extra_days} day"
            )
        return connection.execute(f"select {columns} from marts.fct_complaints {since}").df()


def predictions(model, version: str, tickets: pd.DataFrame) -> pd.DataFrame:
    typed = complaint_types.classify_complaints(model, tickets)
    citizen = complaint_types.clean_labels(
        tickets["categories"].map(complaint_types._as_list).reset_index(drop=True)
    )
    return typed.assign(
        opened_date=tickets["opened_date"].to_numpy(),
        citizen_types=citizen.to_numpy(),
        model_version=version,
        last_seen_date=tickets["last_seen_date"].to_numpy(),
    )


INSIGHTS_SQL = f"""
create or replace table "{SCHEMA}".complaint_insights as
select p.ticket_id, cast(p.opened_date as date) as opened_date,
       cast(p.citizen_types as varchar[]) as citizen_types, p.predicted_type,
       cast(p.confidence as double) as confidence, p.type_disagrees,
       cast(d.duplicate_of as varchar) as duplicate_of,
       cast(d.similarity as double) as duplicate_similarity, p.model_version,
       cast(p.last_seen_date as date) as last_seen_date
from "{SCHEMA}".complaint_predictions p
left join "{SCHEMA}".complaint_duplicates d using (ticket_id)
order by p.opened_date, p.ticket_id
"""


def classify_and_link(context: dg.AssetExecutionContext, settings: Settings) -> dict[str, Any]:
    if store.current_version(settings.models_dir, MODEL_NAME) is None:
        context.log.info("no complaint classifier in service yet: training the first version")
        train_types(settings)
    model, card = store.load(settings.models_dir, MODEL_NAME)
    changed = changed_tickets(settings)
    typed = predictions(model, card.version, changed)
    recent = recent_tickets(
        settings, "ticket_id, opened_at, lat, lon, description", "complaint_duplicates"
    )
    links = duplicates.find_duplicates(recent)
    replace_table(settings, "complaint_predictions", typed, key="ticket_id")
    replace_table(settings, "complaint_duplicates", links, key="ticket_id")
    with duckdb.connect(str(settings.warehouse_path)) as connection:
        connection.execute(INSIGHTS_SQL)
        totals = connection.execute(
            f"select count(*), count(duplicate_of), count(*) filter (type_disagrees) "
            f'from "{SCHEMA}".complaint_insights'
        ).fetchone()
    return {
        "dagster/row_count": totals[0],
        "classified_tonight": len(typed),
        "duplicates": totals[1],
        "type_disagrees": totals[2],
        "model_version": card.version,
        "preview": dg.MetadataValue.md(
            markdown_preview(pa_table(typed.drop(columns="citizen_types")))
        ),
    }


def pa_table(frame: pd.DataFrame):
    import pyarrow as pa

    return pa.Table.from_pandas(frame, preserve_index=False)


@dg.asset(
    key=INSIGHTS_KEY,
    deps=[TYPE_MODEL_KEY, COMPLAINTS_KEY],
    group_name=GROUP,
    pool=WAREHOUSE_POOL,
    kinds={"scikitlearn", "duckdb"},
    check_specs=[output_check(INSIGHTS_KEY)],
    description="ประเภทที่คาดและเรื่องซ้ำ · Per complaint: the problem type predicted from the "
    "scrubbed text (beside, never over, the citizen's own types), its confidence, type_disagrees, "
    "duplicate_of (the first report of the same problem) and the model version; table "
    "analyse.complaint_insights.",
)
def complaint_insights(context: dg.AssetExecutionContext, city: CityResource):
    return guarded(context, lambda: classify_and_link(context, city.settings()))


# -- nightly: surges -----------------------------------------------------------------------------

SURGE_COLUMNS = "subdistrict_code, opened_date, categories"


def area_names(settings: Settings) -> pd.DataFrame:
    """Subdistrict and district names by subdistrict code (empty without dim_admin_area)."""
    with connect_read_only(settings.warehouse_path) as connection:
        found = connection.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = 'marts' and table_name = 'dim_admin_area'"
        ).fetchone()[0]
        if not found:
            return pd.DataFrame(columns=AREA_NAME_COLUMNS, dtype="string")
        return connection.execute(
            "select admin_code as subdistrict_code, name_th as subdistrict_name_th, "
            "name_en as subdistrict_name_en, district_name_th, district_name_en "
            "from marts.dim_admin_area where level = 'subdistrict'"
        ).df()


AREA_NAME_COLUMNS = [
    "subdistrict_code", "subdistrict_name_th", "subdistrict_name_en", "district_name_th",
    "district_name_en",
]  # fmt: skip


def previous_alerts(settings: Settings) -> set[tuple] | None:
    """(area, type, day) of the alerts already published; None before the first run."""
    with connect_read_only(settings.warehouse_path) as connection:
        if not table_exists(connection, "complaint_surges"):
            return None
        rows = connection.execute(
            f'select subdistrict_code, problem_type, date from "{SCHEMA}".complaint_surges '
            "where alert"
        ).fetchall()
    return {(a, t, pd.Timestamp(d).date()) for a, t, d in rows}


def find_surges(settings: Settings) -> tuple[pd.DataFrame, pd.DataFrame, object]:
    """The surge rows of the recomputed days (with area names), the new alerts among them, and
    the first recomputed day (None on a first run: all days)."""
    already = previous_alerts(settings)
    complaints = recent_tickets(
        settings, SURGE_COLUMNS, "complaint_surges", extra_days=surge.BASELINE_DAYS
    )
    found = surge.detect_surges(complaints)
    found = found.merge(area_names(settings), on="subdistrict_code", how="left")
    found["date"] = pd.to_datetime(found["date"]).dt.date
    newest = pd.to_datetime(complaints["opened_date"]).max()
    if pd.isna(newest):
        return found, found.iloc[:0], None
    newest = newest.date()
    first_day = None
    if already is not None:  # earlier days were computed with their full baseline before
        first_day = newest - timedelta(days=RECENT_DAYS - 1)
        found = found[found["date"] >= first_day]
    keys = zip(found["subdistrict_code"], found["problem_type"], found["date"], strict=True)
    fresh = found["alert"].to_numpy(dtype=bool) & [k not in (already or ()) for k in keys]
    recent = (found["date"] > newest - timedelta(days=ALERT_DAYS)).to_numpy(dtype=bool)
    return found, found[fresh & recent], first_day


def surge_alert(settings: Settings, row: pd.Series, run_id: str) -> dict[str, Any]:
    area = row.get("subdistrict_name_en") or row["subdistrict_code"]
    return {
        "alert": "complaint_surge",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "city": settings.city.slug,
        "city_name": settings.city.name_en,
        "run_id": run_id,
        "date": row["date"].isoformat(),
        "subdistrict_code": row["subdistrict_code"],
        "subdistrict_name_th": none_if_na(row.get("subdistrict_name_th")),
        "subdistrict_name_en": none_if_na(row.get("subdistrict_name_en")),
        "problem_type": row["problem_type"],
        "observed": int(row["observed"]),
        "expected": round(float(row["expected"]), 2),
        "p_value": float(row["p_value"]),
        "summary": f"{row['observed']} {row['problem_type']} complaints in {area} on "
        f"{row['date']:%Y-%m-%d}, expected {row['expected']:.1f}",
    }


def none_if_na(value: Any) -> Any:
    return None if value is None or (isinstance(value, float) and pd.isna(value)) else value


SURGE_TABLE_COLUMNS = [
    "date", "subdistrict_code", "subdistrict_name_th", "subdistrict_name_en", "district_name_th",
    "district_name_en", "problem_type", "observed", "expected", "upper_bound", "p_value",
    "has_baseline", "alert",
]  # fmt: skip


def detect_and_alert(context: dg.AssetExecutionContext, settings: Settings) -> dict[str, Any]:
    found, alerts, first_day = find_surges(settings)
    table = found[SURGE_TABLE_COLUMNS].astype({"observed": "int32", "upper_bound": "int32"})
    if first_day is None:
        replace_table(settings, "complaint_surges", table)
    else:
        with duckdb.connect(str(settings.warehouse_path)) as connection:
            connection.execute(
                f'delete from "{SCHEMA}".complaint_surges where date >= ?', [first_day]
            )
        replace_table(settings, "complaint_surges", table, key="date")
    for _, row in alerts.iterrows():
        alert = surge_alert(settings, row, context.run_id)
        gates.send_alert(settings, alert)
        context.log.warning(f"surge: {alert['summary']}")
    return {
        "dagster/row_count": len(table),
        "alerts": int(table["alert"].sum()),
        "alerts_sent": len(alerts),
        "recomputed_from": str(first_day or "all history"),
    }


@dg.asset(
    key=SURGES_KEY,
    deps=[COMPLAINTS_KEY],
    group_name=GROUP,
    pool=WAREHOUSE_POOL,
    kinds={"python", "duckdb"},
    check_specs=[output_check(SURGES_KEY)],
    description="การเพิ่มขึ้นผิดปกติของเรื่องร้องเรียน · Complaint surges per subdistrict × problem "
    "type × day: observed and expected count (trailing 28 days with day of week), Poisson p-value "
    "and alert; a new alert goes to the alert channel (alerts.jsonl, webhook). Table "
    "analyse.complaint_surges.",
)
def complaint_surges(context: dg.AssetExecutionContext, city: CityResource):
    return guarded(context, lambda: detect_and_alert(context, city.settings()))


ASSETS = [complaint_type_model, complaint_insights, complaint_surges]
