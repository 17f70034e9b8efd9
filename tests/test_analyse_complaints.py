"""Complaint models (city_pipeline/analyse/) on slices of the real tagged Traffy history."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from city_pipeline import cli
from city_pipeline.analyse import complaint_types, duplicates, surge
from city_pipeline.analyse.traffy_history import build_history, is_test_ticket


def history(part: str) -> pd.DataFrame:
    path = complaint_types.HISTORY_DIR / f"traffy_tagged_{part}.csv"
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def labelled(frame: pd.DataFrame, n: int) -> pd.DataFrame:
    return frame[frame["labels"] != ""].head(n).reset_index(drop=True)


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("history") / "train.csv"
    labelled(history("train"), 700).to_csv(path, index=False)
    return complaint_types.train_on_history(path)


def national_id(first_twelve: str) -> str:
    """A Thai national ID with a valid mod-11 check digit."""
    total = sum(int(d) * w for d, w in zip(first_twelve, range(13, 1, -1), strict=True))
    return first_twelve + str((11 - total % 11) % 10)


# -- the history files -----------------------------------------------------------------------


def test_history_split_is_fixed_disjoint_and_about_a_fifth():
    train, test = history("train"), history("test")
    assert not set(train["ticket_id"]) & set(test["ticket_id"])
    assert is_test_ticket(test["ticket_id"]).all() and not is_test_ticket(train["ticket_id"]).any()
    assert 0.15 < len(test) / (len(train) + len(test)) < 0.25
    labels = pd.concat([train["labels"], test["labels"]]).str.split("|").explode()
    assert not set(labels) & (complaint_types.UNINFORMATIVE_TAGS - {""})


def test_history_builder_dedupes_drops_uninformative_tags_and_scrubs(tmp_path):
    phone = "081-234-5678"
    api = tmp_path / "api.csv"
    pd.DataFrame(
        {
            "type": ["ถนน,ร้องเรียน", "สอบถาม"],
            "description": [f"ถนนพัง โทร {phone}", "ถามเรื่องทั่วไป"],
            "ticket_id": ["2023-AAA", "2023-BBB"],
            "coords": ["['100.5', '13.7']", "['100.6', '13.8']"],
            "timestamp": ["2023-05-14 09:00:00+00", "2023-05-14 10:00:00+00"],
            "last_activity": ["2023-05-15 09:00:00+00", "2023-05-14 10:00:00+00"],
        }
    ).to_csv(api, index=False)
    team = tmp_path / "team.csv"
    pd.DataFrame(
        {
            "ticket_id": ["2023-AAA", "2023-CCC"],
            "type": ["{ไฟฟ้า}", "{ทางเท้า,แสงสว่าง}"],
            "comment": ["older version", "ไฟทางเท้าดับ"],
            "coords": ["100.5,13.7", "100.7,13.9"],
            "timestamp": ["2023-05-14 09:00:00+00", "2023-05-12 08:00:00+00"],
            "last_activity": ["2023-05-14 09:30:00+00", "2023-05-12 08:00:00+00"],
        }
    ).to_csv(team, index=False)
    tickets = build_history(api, team).set_index("ticket_id")
    assert list(tickets.index) == ["2023-AAA", "2023-BBB", "2023-CCC"]
    assert tickets.loc["2023-AAA", "labels"] == "ถนน"  # the later version; ร้องเรียน dropped
    assert tickets.loc["2023-AAA", "text"] == "ถนนพัง โทร [PHONE]"
    assert tickets.loc["2023-BBB", "labels"] == ""  # only an uninformative tag: unlabelled
    assert tickets.loc["2023-CCC", "labels"] == "ทางเท้า|แสงสว่าง"
    assert tickets.loc["2023-CCC", ["lat", "lon"]].tolist() == [13.9, 100.7]


# -- classifier ------------------------------------------------------------------------------


def test_classifier_beats_majority_on_held_out_real_tickets():
    result = complaint_types.evaluate(
        labelled(history("train"), 900), labelled(history("test"), 250)
    )
    baseline = result["baseline"]
    assert result["n"] == baseline["n"] == 250
    assert result["top1_accuracy"] >= baseline["top1_accuracy"] + 0.25
    assert result["micro_f1"] >= baseline["micro_f1"] + 0.25
    assert result["macro_f1"] > baseline["macro_f1"] + 0.2


def test_type_disagrees_only_for_confident_contradictions_of_a_given_type(small_model):
    texts = ["ถนนเป็นหลุมเป็นบ่อ ถนนชำรุด ผิวถนนพัง", "ถนนเป็นหลุมเป็นบ่อ ถนนชำรุด ผิวถนนพัง"] * 2
    given = [["PM2.5"], [], ["ร้องเรียน"], ["ถนน"]]
    table = complaint_types.predict(small_model, texts, given, disagreement_confidence=0.0)
    assert (table["predicted_type"] == "ถนน").all()
    assert table["type_disagrees"].tolist() == [True, False, False, False]
    strict = complaint_types.predict(small_model, texts, given, disagreement_confidence=1.01)
    assert not strict["type_disagrees"].any()


def test_classify_complaints_reads_mart_columns(small_model):
    mart = pd.DataFrame(
        {
            "ticket_id": ["t1", "t2"],
            "description": ["ไฟส่องสว่างดับ มืดมาก ไฟถนนเสีย", None],
            "categories": [["ไม่ระบุ"], None],
        }
    )
    table = complaint_types.classify_complaints(small_model, mart)
    assert list(table.columns) == ["ticket_id", "predicted_type", "confidence", "type_disagrees"]
    assert table["ticket_id"].tolist() == ["t1", "t2"]
    assert table.loc[0, "predicted_type"] == "แสงสว่าง"
    assert not table["type_disagrees"].any()  # ไม่ระบุ and missing categories give no type


def test_personal_data_never_reaches_the_model():
    pid = national_id("110170020345")
    phone = "089-471-9263"
    texts = [f"ถนนชำรุด ติดต่อ {phone} บัตร {pid}", f"ไฟดับ โทร {phone} เลข {pid} a@b.co"] * 3
    prepared = complaint_types.prepare_texts(pd.Series(texts))
    assert prepared.str.contains(r"\[PHONE\]").all() and prepared.str.contains(r"\[ID\]").all()
    model = complaint_types.train(prepared, [["ถนน"], ["แสงสว่าง"]] * 3)
    vocabulary = set(model.named_steps["tfidf"].vocabulary_)
    assert "pho" in vocabulary and "[id" in vocabulary
    digit_grams = {g for g in vocabulary if any(ch.isdigit() for ch in g)}
    assert not digit_grams  # neither the phone's nor the ID's digits


def test_model_round_trips_through_skops(small_model):
    import skops.io as sio

    blob = sio.dumps(small_model)
    loaded = sio.loads(blob, trusted=sio.get_untrusted_types(data=blob))
    texts = ["น้ำท่วมขังถนน ระบายไม่ทัน"]
    expected = complaint_types.predict(small_model, texts)
    assert complaint_types.predict(loaded, texts).equals(expected)


# -- `city-pipeline evaluate complaints` -----------------------------------------------------


def test_evaluate_command_prints_one_json_object(tmp_path, capsys):
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    labelled(history("train"), 400)[["text", "labels"]].to_csv(train, index=False)
    scored = labelled(history("test"), 120)[["text", "labels"]]
    unknown = pd.DataFrame({"text": ["ไม่รู้ว่าเป็นเรื่องอะไร"], "labels": [""]})
    pd.concat([scored, unknown]).to_csv(test, index=False)
    code = cli.main(["evaluate", "complaints", "--train", str(train), "--test", str(test)])
    out = capsys.readouterr().out
    assert code == 0
    result = json.loads(out)
    for metrics in (result, result["baseline"]):
        assert {"top1_accuracy", "micro_f1", "macro_f1", "n"} <= set(metrics)
        assert metrics["n"] == 120  # the unlabelled row is not scored
        assert 0 <= metrics["micro_f1"] <= 1
    assert result["top1_accuracy"] > result["baseline"]["top1_accuracy"]


def write(path: Path, content: str | bytes | None) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("", "empty file"),
        ("text,kind\nถนนพัง,ถนน\n", "column 'labels': missing"),
        ("text,labels\n", "column 'text': no rows"),
        ("text,labels\nถนนพัง,ร้องเรียน\n", "column 'labels': no row has a problem type"),
        ("text,labels\nถนนพัง,ถนน\n".encode("cp874"), "unreadable CSV"),  # TIS-620, not UTF-8
        ('text,labels\n"ถนนพัง,ถนน\n', "unreadable CSV"),
    ],
)
def test_evaluate_command_names_file_and_column_of_a_bad_csv(tmp_path, capsys, content, message):
    bad = write(tmp_path / "bad.csv", content)
    good = tmp_path / "good.csv"
    labelled(history("test"), 20)[["text", "labels"]].to_csv(good, index=False)
    code = cli.main(["evaluate", "complaints", "--train", str(bad), "--test", str(good)])
    err = capsys.readouterr().err
    assert code != 0
    assert err.count("\n") == 1 and "Traceback" not in err
    assert str(bad) in err and message in err


# -- duplicates ------------------------------------------------------------------------------


def test_duplicates_found_on_planted_pairs_only():
    real = history("train").head(300)
    background = pd.DataFrame(
        {
            "ticket_id": real["ticket_id"],
            "opened_at": real["opened_at"],
            "lat": real["lat"].astype(float),
            "lon": real["lon"].astype(float),
            "description": real["text"],
        }
    )
    text = "มีรถจอดขวางทางเท้าหน้าร้านอาหาร ทุกวัน เดินผ่านไม่ได้"
    other = "ท่อระบายน้ำอุดตัน น้ำเน่าส่งกลิ่นเหม็น"
    metres = 1 / 111_320  # degrees of latitude per metre
    planted = pd.DataFrame(
        [
            ("P-first", "2024-03-01T08:00:00Z", 13.75, 100.5, text),
            ("P-again", "2024-03-02T09:00:00Z", 13.75 + 40 * metres, 100.5, text + " ครับ"),
            # 130 m and 3.1 days from P-first: a duplicate only through P-again
            ("P-chain", "2024-03-04T10:00:00Z", 13.75 + 130 * metres, 100.5, text),
            ("P-later", "2024-03-20T08:00:00Z", 13.75, 100.5, text),
            ("P-far", "2024-03-01T09:00:00Z", 13.80, 100.5, text),
            ("P-other", "2024-03-01T10:00:00Z", 13.75, 100.5, other),
        ],
        columns=background.columns,
    )
    found = duplicates.find_duplicates(pd.concat([background, planted], ignore_index=True))
    found = found.set_index("ticket_id")["duplicate_of"]
    assert found["P-again"] == "P-first"
    assert found["P-chain"] == "P-first"  # linked through P-again, resolved to the earliest
    assert found[["P-first", "P-later", "P-far", "P-other"]].isna().all()


# -- surges ----------------------------------------------------------------------------------


def complaints_per_day(counts: list[int], start: str = "2024-01-01", area: str = "100101"):
    days = pd.date_range(start, periods=len(counts)).date
    return pd.DataFrame(
        {
            "subdistrict_code": area,
            "opened_date": np.repeat(days, counts),
            "categories": [["ถนน", "ร้องเรียน"]] * sum(counts),
        }
    )


def test_surge_alerts_on_a_planted_spike_only():
    counts = [2] * 60
    counts[45] = 12
    result = surge.detect_surges(complaints_per_day(counts))
    assert set(result["problem_type"]) == {"ถนน"}  # ร้องเรียน is not a problem type
    alerts = result[result["alert"]]
    assert alerts["date"].tolist() == [pd.Timestamp("2024-02-15").date()]
    assert alerts["observed"].tolist() == [12]
    assert alerts["expected"].iloc[0] == pytest.approx(2.0, rel=0.1)


def test_surge_stays_quiet_on_flat_series_and_without_a_baseline():
    flat = complaints_per_day([3] * 70)
    early_burst = complaints_per_day([0] * 5 + [9] + [0] * 20, area="100102")
    result = surge.detect_surges(pd.concat([flat, early_burst], ignore_index=True))
    assert not result["alert"].any()
    burst = result[result["subdistrict_code"] == "100102"]
    assert not burst["has_baseline"].any() and burst["p_value"].iloc[0] < 1e-6


# -- the mart's own types --------------------------------------------------------------------


MART_SQL = """
    SELECT * FROM (VALUES
        ('a1', 'ถนนชำรุดเป็นหลุม', ['ถนน'], TIMESTAMP '2024-03-01 08:00', 13.75, 100.5, '100101'),
        ('a2', 'ถนนชำรุดเป็นหลุมครับ', ['ถนน', 'ร้องเรียน'], TIMESTAMP '2024-03-01 09:00',
            13.7501, 100.5, '100101'),
        ('a3', NULL, ['ไม่ระบุ'], TIMESTAMP '2024-03-02 09:00', NULL, NULL, NULL)
    ) AS t(ticket_id, description, categories, opened_at, lat, lon, subdistrict_code)
"""


@pytest.mark.parametrize("where", ["true", "false"])
def test_models_take_fct_complaints_columns_as_duckdb_returns_them(small_model, where):
    import duckdb

    mart = duckdb.sql(
        f"SELECT *, CAST(opened_at AS DATE) AS opened_date FROM ({MART_SQL}) WHERE {where}"
    ).df()
    types = complaint_types.classify_complaints(small_model, mart)
    found = duplicates.find_duplicates(mart)
    surges = surge.detect_surges(mart)
    assert len(types) == len(found) == len(mart)
    if len(mart):
        assert types["predicted_type"].iloc[0] == "ถนน"
        links = found.set_index("ticket_id")["duplicate_of"]
        assert links["a2"] == "a1" and links[["a1", "a3"]].isna().all()
        assert surges[["subdistrict_code", "problem_type", "observed"]].values.tolist() == [
            ["100101", "ถนน", 2]
        ]
    else:
        assert surges.empty and "alert" in surges.columns
