"""Complaint assets of the Analyse stage (group `analyse`):

    data/history tagged tickets ──> analyse/complaint_type_model (weekly retrain, skops + card)
    marts/fct_complaints ────────────> analyse/complaint_insights (nightly: predicted type,
                                                                 confidence, duplicate_of)
    (analyse/complaint_surges, nightly, is in defs/analyse_surges.py)

Nightly work is incremental so it stays small at Bangkok scale: only tickets that are new or whose
text changed go through the classifier (citizen types and `type_disagrees` are joined from the
mart's current categories in SQL); near-duplicates are recomputed over the tickets opened in the
last `DUPLICATE_DAYS` days (a ticket's duplicate status is settled once the tickets of the
following `duplicates.MAX_DAYS` days are in). A first run (empty tables) covers all history.
"""

from datetime import UTC, datetime
from typing import Any

import dagster as dg
import duckdb
import pandas as pd

from city_pipeline.analyse import complaint_types, duplicates, store
from city_pipeline.consume.warehouse import connect_read_only
from city_pipeline.defs.analyse import GROUP, SCHEMA, guarded, output_check, replace_table
from city_pipeline.defs.analyse_surges import (
    complaint_surges_asset,
    recent_tickets,
    table_exists,
)
from city_pipeline.defs.consume import markdown_preview
from city_pipeline.defs.naming import CityNames
from city_pipeline.defs.policies import freshness_policy
from city_pipeline.defs.resources import CityResource
from city_pipeline.freshness import RULES
from city_pipeline.settings import Settings

MODEL_NAME = "complaint_types"
TYPE_MODEL_KEY = dg.AssetKey([SCHEMA, "complaint_type_model"])
INSIGHTS_KEY = dg.AssetKey([SCHEMA, "complaint_insights"])
COMPLAINTS_KEY = dg.AssetKey(["marts", "fct_complaints"])
TYPE_MODEL_CHECK = "beats_baseline_and_predecessor"
# Days of tickets re-linked for duplicates each night: a new ticket links to tickets up to
# duplicates.MAX_DAYS (3) before it, so a week also covers captures a few days late.
DUPLICATE_DAYS = 7


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
    stored = complaint_types.for_storage(model)
    store.save(settings.models_dir, card, stored, make_current=accepted or old is None)
    return card, old, accepted, reasons


def complaint_type_model_asset(names: CityNames) -> dg.AssetsDefinition:
    @dg.asset(
        key=names.key(TYPE_MODEL_KEY),
        group_name=GROUP,
        kinds={"scikitlearn", "python"},
        check_specs=[dg.AssetCheckSpec(TYPE_MODEL_CHECK, asset=names.key(TYPE_MODEL_KEY))],
        freshness_policy=freshness_policy(RULES["weekly"]),
        description="ตัวแบบจำแนกประเภทเรื่องร้องเรียน · Complaint problem-type classifier (char n-gram "
        "TF-IDF + logistic regression), retrained weekly on the real tagged Traffy tickets in "
        "data/history and scored on the held-out part; skops + model card under "
        "<data dir>/models/complaint_types/. A version not beating the majority type or the one in "
        "service is kept but not put in service (the check warns).",
    )
    def complaint_type_model(context: dg.AssetExecutionContext, city: CityResource):
        settings = city.settings(context.selected_asset_keys)
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

    return complaint_type_model


def load_classifier(settings: Settings):
    """The classifier in service, ready to predict, and its card."""
    stored, card = store.load(settings.models_dir, MODEL_NAME)
    return complaint_types.from_storage(stored), card


# -- nightly: types and duplicates per ticket --------------------------------------------------


def seen_tickets(settings: Settings) -> pd.DataFrame:
    """Tickets new or seen again (newer `last_seen_date`) since the last night, with the md5 of
    their description now (`text_md5`) and when last classified (`previous_md5`, NULL if new)."""
    with connect_read_only(settings.warehouse_path) as connection:
        if not table_exists(connection, "complaint_predictions"):
            return connection.execute(
                "select ticket_id, description, md5(coalesce(description, '')) as text_md5, "
                "last_seen_date, cast(null as varchar) as previous_md5 from marts.fct_complaints"
            ).df()
        return connection.execute(SEEN_SQL).df()


SEEN_SQL = f"""
with seen as (
    select f.ticket_id, p.text_md5 as previous_md5
    from marts.fct_complaints f
    left join "{SCHEMA}".complaint_predictions p using (ticket_id)
    where p.ticket_id is null or f.last_seen_date > p.last_seen_date
)
select f.ticket_id, f.description, md5(coalesce(f.description, '')) as text_md5,
       f.last_seen_date, s.previous_md5
from seen s join marts.fct_complaints f using (ticket_id)
"""


def predictions(model, version: str, tickets: pd.DataFrame) -> pd.DataFrame:
    """The classifier's type and confidence per ticket, from the scrubbed text only (`model` is
    None when there are no tickets: an empty frame of the same columns)."""
    if model is None:
        typed = pd.DataFrame({"predicted_type": pd.Series(dtype=str), "confidence": 0.0})
    else:
        texts = complaint_types.prepare_texts(tickets["description"])
        typed = complaint_types.predict(model, texts)[["predicted_type", "confidence"]]
    return typed.assign(
        ticket_id=tickets["ticket_id"].to_numpy(),
        model_version=version,
        text_md5=tickets["text_md5"].to_numpy(),
        last_seen_date=tickets["last_seen_date"].to_numpy(),
    )


def _sql_list(values) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in sorted(values))


NOT_PROBLEMS = _sql_list(complaint_types.UNINFORMATIVE_TAGS)
# The citizen's informative types and `type_disagrees` come from the mart's current categories
# (the same rule as complaint_types.predict), so a re-tagged ticket needs no re-classification.
INSIGHTS_SELECT = f"""
with tagged as (
    select ticket_id, opened_date, list_sort(list_distinct(list_filter(
               list_transform(categories, lambda c: trim(c)),
               lambda c: c is not null and c not in ({NOT_PROBLEMS})
           ))) as citizen_types
    from marts.fct_complaints
    where {{where}}
)
select t.ticket_id, t.opened_date, cast(t.citizen_types as varchar[]) as citizen_types,
       p.predicted_type, cast(p.confidence as double) as confidence,
       coalesce(len(t.citizen_types) > 0 and not list_contains(t.citizen_types, p.predicted_type)
                and p.confidence >= {complaint_types.DISAGREEMENT_CONFIDENCE}, false)
           as type_disagrees,
       cast(d.duplicate_of as varchar) as duplicate_of,
       cast(d.similarity as double) as duplicate_similarity, p.model_version
from tagged t
join "{SCHEMA}".complaint_predictions p using (ticket_id)
left join "{SCHEMA}".complaint_duplicates d using (ticket_id)
"""
INSIGHTS = f'"{SCHEMA}".complaint_insights'


def write_insights(settings: Settings, affected: pd.Series) -> tuple[int, int, int]:
    """Rebuild the published rows of the `affected` tickets (all rows on a first run) and
    return the table's (rows, duplicates, disagreements)."""
    with duckdb.connect(str(settings.warehouse_path)) as connection:
        if not table_exists(connection, "complaint_insights"):
            everything = INSIGHTS_SELECT.format(where="true")
            connection.execute(f"create table {INSIGHTS} as {everything}")
        else:
            connection.register("affected", pd.DataFrame({"ticket_id": affected.unique()}))
            where = "ticket_id in (select ticket_id from affected)"
            connection.execute(f"delete from {INSIGHTS} where {where}")
            connection.execute(f"insert into {INSIGHTS} " + INSIGHTS_SELECT.format(where=where))
        return connection.execute(
            f"select count(*), count(duplicate_of), count(*) filter (type_disagrees) "
            f"from {INSIGHTS}"
        ).fetchone()


def classify_and_link(context: dg.AssetExecutionContext, settings: Settings) -> dict[str, Any]:
    if store.current_version(settings.models_dir, MODEL_NAME) is None:
        context.log.info("no complaint classifier in service yet: training the first version")
        train_types(settings)
    seen = seen_tickets(settings)
    changed = seen[seen["previous_md5"].isna() | (seen["text_md5"] != seen["previous_md5"])]
    version = store.current_version(settings.models_dir, MODEL_NAME)
    model = None
    if len(changed):
        model, card = load_classifier(settings)
        version = card.version
    typed = predictions(model, version, changed)
    recent = recent_tickets(
        settings,
        "ticket_id, opened_at, lat, lon, description",
        "complaint_duplicates",
        days=DUPLICATE_DAYS,
    )
    links = duplicates.find_duplicates(recent)
    replace_table(settings, "complaint_predictions", typed, key="ticket_id")
    replace_table(settings, "complaint_duplicates", links, key="ticket_id")
    with duckdb.connect(str(settings.warehouse_path)) as connection:
        # Seen again with the same text: the prediction stands for the newer version too.
        connection.register("seen", seen[["ticket_id", "last_seen_date"]])
        connection.execute(
            f'update "{SCHEMA}".complaint_predictions p set last_seen_date = s.last_seen_date '
            "from seen s where p.ticket_id = s.ticket_id"
        )
    rows, linked, disagree = write_insights(
        settings, pd.concat([seen["ticket_id"], recent["ticket_id"]])
    )
    return {
        "dagster/row_count": rows,
        "classified_tonight": len(typed),
        "seen_again_same_text": len(seen) - len(changed),
        "duplicates": linked,
        "type_disagrees": disagree,
        "model_version": version,
        "preview": dg.MetadataValue.md(markdown_preview(pa_table(typed.drop(columns="text_md5")))),
    }


def pa_table(frame: pd.DataFrame):
    import pyarrow as pa

    return pa.Table.from_pandas(frame, preserve_index=False)


def complaint_insights_asset(names: CityNames) -> dg.AssetsDefinition:
    @dg.asset(
        key=names.key(INSIGHTS_KEY),
        deps=[names.key(TYPE_MODEL_KEY), names.key(COMPLAINTS_KEY)],
        group_name=GROUP,
        pool=names.pool,
        kinds={"scikitlearn", "duckdb"},
        check_specs=[output_check(names.key(INSIGHTS_KEY))],
        description="ประเภทที่คาดและเรื่องซ้ำ · Per complaint: the problem type predicted from the "
        "scrubbed text (beside, never over, the citizen's own types), its confidence, "
        "type_disagrees, duplicate_of (the first report of the same problem) and the model "
        "version; table analyse.complaint_insights.",
    )
    def complaint_insights(context: dg.AssetExecutionContext, city: CityResource):
        return guarded(
            context, lambda: classify_and_link(context, city.settings(context.selected_asset_keys))
        )

    return complaint_insights


def complaint_assets(names: CityNames) -> list[dg.AssetsDefinition]:
    return [
        complaint_type_model_asset(names),
        complaint_insights_asset(names),
        complaint_surges_asset(names),
    ]
