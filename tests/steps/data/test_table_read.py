"""Reading tables as spreadsheets write them, typing their columns, and the fitted front that
turns raw rows into numbers (steps/data/table_read.py, table_front.py, raw_rows.py)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from steps.data import raw_rows
from steps.data.sources.csv_file import DEFAULTS, table_dataset
from steps.data.table_front import Front, fit_transformer, spec_of
from steps.data.table_read import column_kinds, read_table
from steps.errors import UserError

from helpers import tables

TEXT = 'name;city;price\nKim;서울;"1,200"\nLee;부산;950\nPark;서울;"2,300"\n'


@pytest.mark.parametrize(
    ("encoding", "found"),
    [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("cp949", "cp949")],
)
def test_the_encoding_and_separator_are_found(tmp_path, encoding, found):
    path = tmp_path / "t.csv"
    path.write_bytes(TEXT.encode(encoding))
    read = read_table(path)
    assert (read.encoding, read.sep) == (found, ";")
    assert list(read.frame.columns) == ["name", "city", "price"]  # no BOM in the first name
    assert read.frame["city"].tolist() == ["서울", "부산", "서울"]
    assert read.frame["price"].tolist() == [1200, 950, 2300]  # "1,200" is a number
    assert read.written_as_text == ("price",)


def test_latin1_and_tabs(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes("ville\tprix\nMontréal\t3\nQuébec\t4\n".encode("latin-1"))
    read = read_table(path)
    assert (read.encoding, read.sep) == ("latin-1", "\t")
    assert read.frame["ville"].tolist() == ["Montréal", "Québec"]


def test_a_given_encoding_or_separator_is_used_or_refused_in_one_line(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(TEXT.encode("cp949"))
    assert read_table(path, sep="semicolon", encoding="cp949").frame.shape == (3, 3)
    with pytest.raises(UserError, match=r"^cannot read .*t\.csv as utf-8: invalid"):
        read_table(path, encoding="utf-8")
    with pytest.raises(UserError, match=r"^unknown encoding 'klingon'"):
        read_table(path, encoding="klingon")
    with pytest.raises(UserError, match=r"^bad value ':' for sep: choose one of comma"):
        read_table(path, sep=":")


def test_columns_are_typed_and_names_left_out():
    table = tables.customers(rows=60)
    columns = column_kinds(table, "bought")
    assert columns.numbers == ("age", "income")
    assert columns.booleans == ("member",)
    assert columns.dates == {"signup": "ISO8601"}
    assert columns.categories == ("city", "plan")
    assert list(columns.left_out) == ["customer"]
    assert columns.left_out["customer"].startswith("text with 60 distinct values in 60 rows")
    kept = column_kinds(table, "bought", drop=("plan",), keep=("customer",))
    assert kept.categories == ("customer", "city")
    assert kept.left_out == {"plan": "dropped by drop_columns"}
    with pytest.raises(UserError, match=r"^drop_columns names 'nope', not a column"):
        column_kinds(table, "bought", drop=("nope",))


@pytest.mark.parametrize("written", ["17.03.2024", "03/17/2024", "2024/03/17", "2024-03-17"])
def test_dates_in_the_common_spellings(written):
    frame = pd.DataFrame({"when": [written, None], "y": [1, 2]})
    fmt = column_kinds(frame, "y").dates["when"]
    features = raw_rows.calendar(raw_rows.as_dates(frame["when"], fmt), "when")
    assert features.loc[0, "when_year"] == 2024 and features.loc[0, "when_month"] == 3
    sunday = 2 * np.pi * 6 / 7  # 17 March 2024 was a Sunday
    assert features.loc[0, "when_weekday_sin"] == pytest.approx(np.sin(sunday))
    assert features.loc[1].isna().all()


def test_the_front_imputes_and_gives_unseen_categories_a_slot():
    table = tables.customers(rows=80)
    columns = column_kinds(table, "bought")
    spec = spec_of(columns, "impute")
    front = fit_transformer(spec, table.iloc[:60])
    names = list(front.get_feature_names_out())
    assert "city_infrequent_sklearn" in names and "missingindicator_age" in names
    rows = table.iloc[60:].copy()
    rows.iloc[0, rows.columns.get_loc("city")] = tables.UNSEEN_CITY
    rows.iloc[1, rows.columns.get_loc("age")] = np.nan
    x = raw_rows.matrix(spec, front, rows)
    assert x.dtype == np.float32 and np.isfinite(x).all()
    assert x[0, names.index("city_infrequent_sklearn")] == 1
    assert x[1, names.index("missingindicator_age")] == 1
    assert x[1, names.index("age")] == np.nanmedian(table["age"].iloc[:60].to_numpy())
    with pytest.raises(ValueError, match=r"the rows lack the column\(s\) 'plan'"):
        raw_rows.matrix(spec, front, rows.drop(columns=["plan"]))
    refusing = {**spec, "missing": "refuse"}
    with pytest.raises(ValueError, match=r"^missing values in 'age' \(\d\)"):
        raw_rows.matrix(refusing, front, rows.iloc[:2].assign(signup="2024-01-01", city="Seoul"))


def test_a_data_set_from_a_file_drops_rows_and_counts_them(tmp_path):
    path = tables.write(tables.customers(rows=100), tmp_path / "c.csv")
    imputed = table_dataset(path, "bought", DEFAULTS)
    dropped = table_dataset(path, "bought", replace(DEFAULTS, missing="drop"))
    assert len(imputed.x_train) == 98  # two rows without a target
    report = Front.from_array(dropped.front).report
    assert report["without_target"] == 2
    assert len(dropped.x_train) == 98 - report["dropped_rows"] and report["dropped_rows"] > 10
    assert not any(name.startswith("missingindicator") for name in dropped.feature_names)
    message = r"54 values are NaN in columns 'age' \(20\), 'income' \(14\), 'signup' \(8\) and 1"
    with pytest.raises(UserError, match=message):
        table_dataset(path, "bought", replace(DEFAULTS, missing="refuse"))


def test_a_file_to_score_is_read_by_the_models_column_names(tmp_path):
    from mlflow.types import ColSpec, DataType, Schema

    from steps import scoring

    schema = Schema([ColSpec(DataType.string, "city"), ColSpec(DataType.double, "price")])
    path = tmp_path / "rows.csv"
    path.write_bytes('name;price;city\nKim;"1,200";서울\nLee;950;\n'.encode("cp949"))
    (chunk,) = scoring.table_chunks(path, schema, 10)
    assert list(chunk.columns) == ["city", "price"]
    assert chunk["city"].tolist() == ["서울", None]  # a missing text: None, as JSON's null
    lacking = tmp_path / "lacking.csv"
    lacking.write_text("name,price\nKim,3\n")
    with pytest.raises(UserError, match=r"^lacking\.csv lacks the column\(s\) city; the model"):
        next(scoring.table_chunks(lacking, schema, 10))


def test_the_defaults_without_table_parameters_are_the_declared_ones():
    from pipelines.params import Params

    assert Params().table_options() == DEFAULTS


def test_a_tables_flags_are_not_standardized_its_numbers_are(tmp_path):
    """The network's first layer standardizes a table's numbers but leaves its one-hot and
    was-missing columns 0 or 1; the raw test rows travel with the prepared data."""
    from steps.data.prepare import prepare

    from helpers.options import prepare_options

    path = tables.write(tables.customers(rows=100), tmp_path / "c.csv")
    dataset = table_dataset(path, "bought", DEFAULTS)
    prepared = prepare(dataset, prepare_options())
    scaling, names = prepared.preprocessing.x_scaling, dataset.feature_names
    for flag in ("city_Seoul", "missingindicator_age", "plan_pro"):
        i = names.index(flag)
        assert (scaling.offset[i], scaling.scale[i]) == (0, 1), flag
    age = names.index("age")
    assert 40 < scaling.offset[age] < 60 and scaling.scale[age] > 5
    assert len(prepared.raw_test) == len(prepared.data.x_test)
    np.testing.assert_allclose(
        prepared.front.encode(prepared.raw_test), prepared.data.x_test, rtol=1e-6
    )


def test_decimal_commas_where_semicolons_separate_the_fields(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes("Stadt;Fläche;Preis\nKöln;70,5;1.234,5\nBonn;;980\n".encode("latin-1"))
    read = read_table(path)
    assert (read.sep, read.decimal) == (";", ",")
    assert read.frame["Fläche"].tolist()[0] == 70.5
    assert np.isnan(read.frame["Fläche"].tolist()[1])
    assert read.frame["Preis"].tolist() == [1234.5, 980.0]
    assert set(read.written_as_text) == {"Fläche", "Preis"}


def test_a_model_of_a_decimal_comma_file_scores_its_rows_as_written(tmp_path):
    rows = 40
    lines = ["Fläche;Stadt;teuer"] + [
        f"{50 + i},{i % 10};{('Köln', 'Bonn')[i % 2]};{'ja' if i > 20 else 'nein'}"
        for i in range(rows)
    ]
    path = tmp_path / "t.csv"
    path.write_bytes("\n".join(lines).encode("latin-1"))
    data = table_dataset(path, "teuer", DEFAULTS)
    front = Front.from_array(data.front)
    assert front.spec["decimal"] == ","
    assert front.report["decimal"] == ","
    written = pd.DataFrame({"Fläche": ["70,5", None], "Stadt": ["Köln", "Bonn"]})
    read = pd.DataFrame({"Fläche": [70.5, np.nan], "Stadt": ["Köln", "Bonn"]})
    np.testing.assert_array_equal(front.encode(written), front.encode(read))
    assert front.encode(written)[0, 0] == pytest.approx(70.5)
