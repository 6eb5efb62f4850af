"""The user's input tables written into the tree (gaitprep.healthgait.tables): a
participants_measures CSV with only ID and Height, as README's config example gives it,
must give a tree that `gaitprep validate` passes."""

from __future__ import annotations

import csv

import pytest
import yaml

from gaitprep.errors import InputError
from gaitprep.healthgait import naming, validate
from gaitprep.healthgait.tables import write_input_table, write_measures_table

from conftest import SAMPLES_TSV, snakemake
from test_validate import make_tree


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_id_and_height_only_gives_every_spec_column_and_a_valid_tree(tmp_path):
    root = make_tree(tmp_path / "hg")
    ids = sorted({p.name for p in (root / "pose").iterdir()})
    src = tmp_path / "heights.csv"
    src.write_text("ID,Height\n" + "".join(f"{pid},{170 + i}\n" for i, pid in enumerate(ids)))
    missing = write_measures_table(src, root / "participants_measures.csv")
    assert missing == [c for c in naming.MEASURES_COLUMNS if c not in ("ID", "Height")]
    rows = _rows(root / "participants_measures.csv")
    assert rows[0] == naming.MEASURES_COLUMNS
    h = naming.MEASURES_COLUMNS.index("Height")
    assert [(r[0], r[h]) for r in rows[1:]] == [(pid, str(170 + i)) for i, pid in enumerate(ids)]
    assert all(v == "" for r in rows[1:] for j, v in enumerate(r) if j not in (0, h))  # unknown: empty, not made up
    rep = validate.validate_tree(root)
    assert rep.issues == [], rep.format()


def test_semicolons_other_spelling_and_extra_columns(tmp_path):
    src = tmp_path / "m.csv"
    src.write_text("\ufeffid ; height;Notes;lean_mass\nPA001; 172.5 ;left-handed;51\n\nPA002;160;;48\n")
    dst = tmp_path / "out" / "participants_measures.csv"
    write_measures_table(src, dst)
    rows = _rows(dst)
    assert rows[0] == naming.MEASURES_COLUMNS + ["Notes"]
    h, lean = naming.MEASURES_COLUMNS.index("Height"), naming.MEASURES_COLUMNS.index("Lean mass")
    assert [(r[0], r[h], r[lean], r[-1]) for r in rows[1:]] == [("PA001", "172.5", "51", "left-handed"), ("PA002", "160", "48", "")]


@pytest.mark.parametrize(
    "text, needle",
    [
        ("Height\n170\n", "has no ID column"),
        ("ID,Height\nPA001,172,5\n", "line 2: 3 fields where the header has 2 (a decimal comma"),
        ("ID,Height,height\nPA001,170,170\n", "names a column twice"),
        ("", "is empty"),
    ],
)
def test_bad_measures_tables_are_refused_naming_the_file(tmp_path, text, needle):
    src = tmp_path / "m.csv"
    src.write_text(text)
    dst = tmp_path / "participants_measures.csv"
    with pytest.raises(InputError, match="m.csv") as e:
        write_measures_table(src, dst)
    assert needle in str(e.value)
    assert not dst.exists() and not list(tmp_path.glob("participants_measures.csv.tmp-*"))


def test_gait_parameters_copied_unchanged(tmp_path):
    src = tmp_path / "ref.csv"
    src.write_bytes(b"ID;Step_UGS\r\nPA001;61,2\r\n")
    assert write_input_table("gait_parameters", src, tmp_path / "gait_parameters.csv") == []
    assert (tmp_path / "gait_parameters.csv").read_bytes() == src.read_bytes()
    with pytest.raises(InputError, match="unknown input table"):
        write_input_table("measures", src, tmp_path / "x.csv")


def test_the_rule_writes_the_spec_columns(tmp_path):
    """The workflow's own job, as README's config example gives the file (ID, Height)."""
    pm = tmp_path / "heights.csv"
    pm.write_text("ID,Height\n" + "".join(f"PA90{i},170\n" for i in range(4)))  # the shared sample sheet's four
    out = tmp_path / "out"
    cfg = tmp_path / "my.yaml"
    cfg.write_text(yaml.safe_dump({"samples": str(SAMPLES_TSV), "output_dir": str(out), "participants_measures": str(pm)}))
    snakemake("--cores", "1", out / "participants_measures.csv", "--configfile", cfg, cwd=tmp_path)
    rows = _rows(out / "participants_measures.csv")
    assert rows[0] == naming.MEASURES_COLUMNS and rows[1][0] == "PA900" and rows[1][4] == "170"
    assert "written empty: Sex, Age" in (out / "logs" / "copy_input_table" / "participants_measures.log").read_text()


def test_the_height_calibration_reads_the_same_spellings(tmp_path):
    from gaitprep.gait.calibration import read_measures

    src = tmp_path / "m.csv"
    src.write_text("id ; height;Notes\nPA001; 172.5 ;x\n")
    assert read_measures(src)["PA001"]["height_cm"] == 172.5
