"""Multi-label tables: NIH-style joined names and CheXpert-style columns, the policies for
uncertain and blank entries, and the counts per label and split."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from biomedclf.data.multilabel import (
    NEGATIVE,
    POSITIVE,
    UNCERTAIN,
    UNKNOWN,
    LabelError,
    counts_markdown,
    label_counts,
    parse_columns,
    parse_joined,
    resolve_codes,
)

NF = "No Finding"  # NIH's name for an image without finding

NIH = """Image Index,Finding Labels,Patient ID
a.png,Effusion|Infiltration,1
b.png,No Finding,1
c.png,Atelectasis,2
d.png,Infiltration|Effusion|Atelectasis,3
"""

CHEXPERT = """Path,Sex,Edema,Atelectasis,Pleural Effusion
p1.jpg,Male,1.0,,-1.0
p2.jpg,Female,0.0,-1,1
p3.jpg,Male,,0,0.0
"""


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_joined_names_sorted_and_no_finding_is_all_zero() -> None:
    table = parse_joined(rows_of(NIH), "data.path: nih.csv", column="Finding Labels", no_finding=NF)
    assert table.names == ("Atelectasis", "Effusion", "Infiltration")
    assert table.codes.dtype == np.int8
    assert table.codes.tolist() == [[0, 1, 1], [0, 0, 0], [1, 0, 0], [1, 1, 1]]


def test_joined_configured_order_is_kept_and_unused_names_allowed() -> None:
    names = ["Infiltration", "Effusion", "Atelectasis", "Pneumonia"]
    table = parse_joined(
        rows_of(NIH), "nih.csv", column="Finding Labels", names=names, no_finding=NF
    )
    assert table.names == tuple(names)
    assert table.codes[:, 3].tolist() == [0, 0, 0, 0]
    assert table.codes[0].tolist() == [1, 1, 0, 0]


def test_joined_unknown_name_names_file_column_line_and_fix() -> None:
    rows = rows_of(NIH.replace("c.png,Atelectasis", "c.png,Atelectasis|Efusion"))
    with pytest.raises(LabelError) as err:
        parse_joined(
            rows, "data.path: nih.csv", "Finding Labels", ["Atelectasis", "Effusion"], no_finding=NF
        )
    msg = str(err.value)
    assert "data.path: nih.csv" in msg and "'Finding Labels'" in msg
    assert "line 4" in msg and "'Efusion'" in msg and "data.classes" in msg
    assert "line 2" in msg and "'Infiltration'" in msg  # every bad row is listed


@pytest.mark.parametrize(
    ("cell", "expect"),
    [("", "line 3: empty; write 'No Finding'"), ("No Finding|Effusion", "together with")],
)
def test_joined_empty_or_mixed_cell_is_refused(cell: str, expect: str) -> None:
    rows = rows_of(NIH.replace("b.png,No Finding", f"b.png,{cell}"))
    with pytest.raises(LabelError, match=expect):
        parse_joined(rows, "nih.csv", column="Finding Labels", no_finding=NF)


def test_joined_without_no_finding_name_and_other_separator() -> None:
    rows = [{"labels": "a; b"}, {"labels": "b"}]
    table = parse_joined(rows, "m.csv", no_finding=None, sep=";")
    assert table.names == ("a", "b") and table.codes.tolist() == [[1, 1], [0, 1]]
    with pytest.raises(LabelError, match="no finding names"):
        parse_joined([{"labels": "No Finding"}], "m.csv", no_finding=NF)


def test_joined_no_finding_name_is_not_a_label() -> None:
    with pytest.raises(LabelError, match="leave it out of data.classes"):
        parse_joined(
            rows_of(NIH), "nih.csv", "Finding Labels", ["Effusion", "No Finding"], no_finding=NF
        )


def test_joined_missing_column_lists_the_header() -> None:
    with pytest.raises(LabelError, match=r"no column 'labels' \(found: Image Index, Finding"):
        parse_joined(rows_of(NIH), "nih.csv", no_finding=NF)


def test_columns_codes_with_uncertain_and_blank() -> None:
    names = ["Edema", "Atelectasis", "Pleural Effusion"]
    table = parse_columns(rows_of(CHEXPERT), "data.path: train.csv", names)
    assert table.names == tuple(names)
    P, N, U, B = POSITIVE, NEGATIVE, UNCERTAIN, UNKNOWN
    assert table.codes.tolist() == [[P, B, U], [N, U, P], [B, N, N]]


@pytest.mark.parametrize("value", ["2", "yes", "0.5", "nan"])
def test_columns_bad_value_names_line_column_and_the_allowed_values(value: str) -> None:
    rows = rows_of(CHEXPERT.replace("p3.jpg,Male,,0", f"p3.jpg,Male,,{value}"))
    with pytest.raises(LabelError) as err:
        parse_columns(rows, "data.path: train.csv", ["Edema", "Atelectasis"])
    msg = str(err.value)
    assert f"line 4, column 'Atelectasis': {value!r}" in msg
    assert "data.path: train.csv" in msg and "1 (positive), 0 (negative), -1" in msg


def test_columns_missing_or_repeated_names() -> None:
    with pytest.raises(LabelError, match="no column 'Cardiomegaly'.*data.classes"):
        parse_columns(rows_of(CHEXPERT), "train.csv", ["Edema", "Cardiomegaly"])
    with pytest.raises(LabelError, match="repeated: Edema"):
        parse_columns(rows_of(CHEXPERT), "train.csv", ["Edema", "Edema"])
    with pytest.raises(LabelError, match="no rows"):
        parse_columns([], "train.csv", ["Edema"])


CODES = np.array([[1, -1, -2], [0, -1, 1], [-2, 0, 0]], dtype=np.int8)


@pytest.mark.parametrize(
    ("uncertain", "blank", "targets", "mask"),
    [
        ("zeros", "ignore", [[1, 0, 0], [0, 0, 1], [0, 0, 0]], [[1, 1, 0], [1, 1, 1], [0, 1, 1]]),
        ("ones", "ignore", [[1, 1, 0], [0, 1, 1], [0, 0, 0]], [[1, 1, 0], [1, 1, 1], [0, 1, 1]]),
        ("ignore", "ignore", [[1, 0, 0], [0, 0, 1], [0, 0, 0]], [[1, 0, 0], [1, 0, 1], [0, 1, 1]]),
        ("ignore", "zeros", [[1, 0, 0], [0, 0, 1], [0, 0, 0]], [[1, 0, 1], [1, 0, 1], [1, 1, 1]]),
        ("zeros", "ones", [[1, 0, 1], [0, 0, 1], [1, 0, 0]], [[1] * 3] * 3),
    ],
)
def test_policies(uncertain: str, blank: str, targets: list, mask: list) -> None:
    y, m = resolve_codes(CODES, uncertain, blank)
    assert y.dtype == np.int8 and m.dtype == bool
    assert y.tolist() == targets
    assert m.astype(int).tolist() == mask


def test_policy_typo_names_the_key() -> None:
    message = "data.multilabel.uncertain: 'one'; use one of zeros, ones, ignore"
    with pytest.raises(LabelError, match=message):
        resolve_codes(CODES, "one", "ignore")
    with pytest.raises(LabelError, match="data.multilabel.blank"):
        resolve_codes(CODES, "zeros", "skip")


def test_counts_per_split_and_markdown() -> None:
    table = parse_columns(rows_of(CHEXPERT), "t.csv", ["Edema", "Atelectasis", "Pleural Effusion"])
    y, _ = table.resolve("ignore", "ignore")
    counts = label_counts(table.codes, table.names, np.array(["train", "test", "train"]))
    assert list(counts) == ["train", "val", "test", "all"]
    assert counts["train"]["Edema"] == {"positive": 1, "negative": 0, "uncertain": 0, "unknown": 1}
    assert counts["test"]["Atelectasis"] == {
        "positive": 0,
        "negative": 0,
        "uncertain": 1,
        "unknown": 0,
    }
    assert counts["val"]["Edema"] == dict.fromkeys(
        ("positive", "negative", "uncertain", "unknown"), 0
    )
    for name in table.names:  # every image is counted once per label
        assert sum(counts["all"][name].values()) == 3
        assert counts["all"][name]["positive"] == int(y[:, table.names.index(name)].sum())
    md = counts_markdown(counts)
    assert "| label | train | val | test | all |" in md
    assert (
        "| Pleural Effusion | 0 / 1 / 1 / 0 | 0 / 0 / 0 / 0 | 1 / 0 / 0 / 0 | 1 / 1 / 1 / 0 |" in md
    )
    assert list(label_counts(table.codes, table.names)) == ["all"]
