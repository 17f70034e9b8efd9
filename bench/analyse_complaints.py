"""Cost of the complaint models at a bench size (`python -m bench.analyse --complaints L`).

The warehouse is built in a child process (`python -m bench.analyse_complaints build SIZE DIR`),
so the parent's peak RSS is that of the models alone: the size's tickets spread evenly over its
days, texts and types resampled from the real tagged tickets in data/history, 180 subdistricts,
points in Bangkok. The analyse tables are left as the previous night would leave them: every
ticket opened before the last day is classified and published in complaint_insights; the
tickets seen again on the last day (opened in its 3 days) changed since, and one in 20 of them
has an edited text. Tonight's run then
classifies the new and edited tickets, re-links duplicates over the last 7 days, rebuilds
complaint_insights and recomputes surges over the last 14 days.
"""

from __future__ import annotations

import json
import logging
import resource
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import duckdb
import pandas as pd

from bench.sizes import SIZES
from city_pipeline.analyse import complaint_types
from city_pipeline.defs import analyse, analyse_complaints, analyse_surges
from city_pipeline.settings import Settings, load_settings

SUBDISTRICTS = 180


def timed(step) -> tuple[Any, dict[str, float]]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = step()
    return result, {
        "wall_s": round(time.perf_counter() - wall, 2),
        "cpu_s": round(time.process_time() - cpu, 2),
    }


def real_texts() -> pd.DataFrame:
    frames = [
        pd.read_csv(p, dtype=str, keep_default_na=False)
        for p in (complaint_types.HISTORY_TRAIN, complaint_types.HISTORY_TEST)
    ]
    texts = pd.concat(frames, ignore_index=True)
    categories = texts["labels"].map(lambda s: s.split("|") if s else ["ไม่ระบุ"])
    return pd.DataFrame({"idx": range(len(texts)), "text": texts["text"], "categories": categories})


TICKETS_SQL = """
create table marts.fct_complaints as
with t as (
    select i, hash(i) as h,
           cast(? as date) + cast(floor(i * ? / ?) as integer) as opened_date
    from range(?) r(i)
)
select 'B-' || t.i as ticket_id, x.text as description, x.categories,
       cast(t.opened_date as timestamp) + to_seconds(cast(t.h % 86400 as bigint)) as opened_at,
       t.opened_date,
       13.65 + (t.h % 10007) / 10007.0 * 0.25 as lat,
       100.45 + (t.h % 9973) / 9973.0 * 0.3 as lon,
       '10' || lpad(cast(101 + t.h % ? as varchar), 4, '0') as subdistrict_code,
       least(t.opened_date + 3, cast(? as date)) as last_seen_date
from t join texts x on x.idx = t.h % ?
"""

PREVIOUS_NIGHT_SQL = """
create schema if not exists "analyse";
create table "analyse".complaint_predictions as
select ticket_id, categories[1] as predicted_type, 0.9 as confidence,
       'previous' as model_version,
       case when last_seen_date = $end and hash(ticket_id) % 20 = 0 then 'edited'
            else md5(coalesce(description, '')) end as text_md5,
       case when last_seen_date = $end then $end - 1 else last_seen_date end as last_seen_date
from marts.fct_complaints where opened_date < $end;
create table "analyse".complaint_duplicates as
select ticket_id, cast(null as varchar) as duplicate_of, cast(null as double) as similarity
from marts.fct_complaints where opened_date < $end;
"""


def build(size_name: str, data_dir: str) -> dict[str, Any]:
    size = SIZES[size_name]
    settings = load_settings({"CITY_PIPELINE_DATA_DIR": data_dir})
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    end = size.start + timedelta(days=size.days - 1)
    texts = real_texts()
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute("create schema if not exists marts")
        con.register("texts", texts)
        params = [size.start, size.days, size.tickets, size.tickets, SUBDISTRICTS, end, len(texts)]
        con.execute(TICKETS_SQL, params)
        con.execute(PREVIOUS_NIGHT_SQL.replace("$end", f"date '{end}'"))
        # The published table as the previous night left it (built whole only on a first run).
        everything = analyse_complaints.INSIGHTS_SELECT.format(where="true")
        con.execute(f"create table {analyse_complaints.INSIGHTS} as {everything}")
    # The surge table of the previous nights: the first-run path over all history, timed.
    (found, _, _), surges = timed(lambda: analyse_surges.find_surges(settings))
    analyse.replace_table(settings, "complaint_surges", found[analyse_surges.SURGE_TABLE_COLUMNS])
    return {"tickets": size.tickets, "days": size.days, "surges_all_history": surges}


def nightly(settings: Settings) -> dict[str, Any]:
    context = SimpleNamespace(run_id="bench", log=logging.getLogger("bench"))
    insights, insights_time = timed(lambda: analyse_complaints.classify_and_link(context, settings))
    surges, surges_time = timed(lambda: analyse_surges.detect_and_alert(context, settings))
    return {
        "classified": insights["classified_tonight"],
        "insights_rows": insights["dagster/row_count"],
        "complaint_insights": insights_time,
        "surge_rows": surges["dagster/row_count"],
        "complaint_surges": surges_time,
        "nightly_wall_s": round(insights_time["wall_s"] + surges_time["wall_s"], 2),
    }


def bench_complaints(size_name: str, data_dir: str | None) -> dict[str, Any]:
    data_dir = data_dir or tempfile.mkdtemp(prefix="bench-complaints-")
    command = [sys.executable, "-m", "bench.analyse_complaints", "build", size_name, data_dir]
    (built, build_time) = timed(lambda: subprocess.run(command, check=True, capture_output=True))
    settings = load_settings({"CITY_PIPELINE_DATA_DIR": data_dir})
    (card, *_), training = timed(lambda: analyse_complaints.train_types(settings))
    night = nightly(settings)
    return {
        "size": size_name,
        "build": {**json.loads(built.stdout), "wall_s": build_time["wall_s"]},
        "weekly_training": {**training, "top1_accuracy": round(card.metrics["top1_accuracy"], 3)},
        "nightly": night,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "data_dir": data_dir,
    }


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "build":
        print(json.dumps(build(sys.argv[2], str(Path(sys.argv[3])))))
    else:
        print("usage: python -m bench.analyse_complaints build SIZE DIR", file=sys.stderr)
        sys.exit(2)
