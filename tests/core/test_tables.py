"""The one table writer: CSV a spreadsheet opens right, JSON, files replaced atomically."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess

import pytest

from core.export.tables import csv_cell, safe_cell, write_csv_table, write_json_table, write_table

ROWS = [
    {"location": "/photos/café.jpg", "tags": "=1+1", "score": 3.5},
    {"location": "/photos/b.jpg", "tags": "Größe; 日本; 🐶", "score": -2},
    {"location": "-x.jpg", "tags": "@SUM(A1)", "score": None},
]
COLUMNS = ["location", "tags", "score"]


def _read_csv(path):
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


def test_every_formula_start_is_neutralised_and_nothing_else():
    starts = ["=1+1", "+x", "-x", "@x", "\tx", "\rx"]
    assert [safe_cell(v) for v in starts] == ["'" + v for v in starts]
    assert [safe_cell(v) for v in ("plain", "", "a=b", "'=already")] == [
        "plain",
        "",
        "a=b",
        "'=already",
    ]
    assert [csv_cell(v) for v in (None, -2, 0.5, True, "-2")] == ["", -2, 0.5, True, "'-2"]


def test_csv_has_a_bom_crlf_and_safe_cells(tmp_path):
    out = tmp_path / "t.csv"
    assert write_csv_table(ROWS, out, columns=COLUMNS) == 3
    assert b"\r\n" in out.read_bytes()
    assert _read_csv(out) == [
        COLUMNS,
        ["/photos/café.jpg", "'=1+1", "3.5"],
        ["/photos/b.jpg", "Größe; 日本; 🐶", "-2"],
        ["'-x.jpg", "'@SUM(A1)", ""],
    ]


def test_csv_columns_choose_and_order_the_cells(tmp_path):
    out = tmp_path / "t.csv"
    write_csv_table([{"b": 1, "a": "x", "extra": "dropped"}, {"a": "y"}], out, columns=["a", "b"])
    assert _read_csv(out) == [["a", "b"], ["x", "1"], ["y", ""]]
    write_csv_table([], out, columns=[])
    assert out.read_bytes() == b""  # no columns, no rows: an empty file, as before


def test_json_keeps_text_as_written(tmp_path):
    out = tmp_path / "t.json"
    assert write_json_table(ROWS, out) == 3
    text = out.read_text(encoding="utf-8")
    assert "日本" in text and "=1+1" in text  # JSON is data, not a spreadsheet: no apostrophes
    assert json.loads(text) == ROWS
    write_json_table([{"b": [1, 2], "a": "x"}], out, columns=["a", "c"])
    assert json.loads(out.read_text(encoding="utf-8")) == [{"a": "x", "c": None}]


def test_write_table_by_format(tmp_path):
    assert write_table(ROWS, tmp_path / "t.csv", columns=COLUMNS, fmt="csv") == 3
    assert write_table(ROWS, tmp_path / "t.json", columns=COLUMNS, fmt="json") == 3
    assert _read_csv(tmp_path / "t.csv")[1][1] == "'=1+1"
    with pytest.raises(ValueError, match="unknown table format 'xls'"):
        write_table(ROWS, tmp_path / "t.xls", columns=COLUMNS, fmt="xls")  # type: ignore[arg-type]


@pytest.mark.parametrize("write", [write_csv_table, write_json_table])
def test_a_failure_half_way_keeps_the_old_file(tmp_path, write):
    out = tmp_path / "t.out"
    out.write_text("previous")

    def rows():
        yield ROWS[0]
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        write(rows(), out, columns=COLUMNS)
    assert out.read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["t.out"]


def _through_libreoffice(path, tmp_path):
    """The cells LibreOffice Calc reads from a UTF-8 CSV (formulas evaluated), saved as CSV."""
    out = tmp_path / "calc"
    subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}",
            "--headless",
            # comma, double quote, UTF-8, from line 1, ..., evaluate formulas
            "--infilter=CSV:44,34,76,1,,0,false,true,false,false,false,-1,true",
            "--convert-to",
            "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1",
            "--outdir",
            str(out),
            str(path),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    (saved,) = out.glob(f"{path.stem}*.csv")  # one sheet, named after the file
    with open(saved, encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
def test_libreoffice_reads_text_as_text_and_numbers_as_numbers(tmp_path):
    unsafe = tmp_path / "unsafe.csv"
    unsafe.write_text("tags\n=1+1\n", encoding="utf-8")
    assert _through_libreoffice(unsafe, tmp_path) == [["tags"], ["2"]]  # what we must prevent

    ours = tmp_path / "ours.csv"
    write_csv_table(ROWS, ours, columns=COLUMNS)
    assert _through_libreoffice(ours, tmp_path) == [
        COLUMNS,  # the byte-order mark is not part of the first cell
        ["/photos/café.jpg", "'=1+1", "3.5"],
        ["/photos/b.jpg", "Größe; 日本; 🐶", "-2"],
        ["'-x.jpg", "'@SUM(A1)", ""],
    ]
