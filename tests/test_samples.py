from pathlib import Path

import pytest

from gaitprep.errors import InputError
from gaitprep.samples import discover, load_sheet

from conftest import SAMPLES_TSV

HEADER = "participant\tgait_type\twalk_class\tclip\tpath\n"


def sheet(tmp_path, rows, header=HEADER):
    (tmp_path / "v.mp4").write_bytes(b"x")
    p = tmp_path / "s.tsv"
    p.write_text(header + "".join("\t".join(r) + "\n" for r in rows))
    return p


def test_shared_sheet_loads_as_is():
    s = load_sheet(SAMPLES_TSV)
    assert [x.key for x in s] == [f"PA90{i}/UGS/NW-WoJ_2" for i in range(4)]
    assert all(x.path.exists() for x in s)


def test_missing_column(tmp_path):
    p = sheet(tmp_path, [("PA001", "UGS", "NW-WJ", "v.mp4")], header="participant\tgait_type\twalk_class\tpath\n")
    with pytest.raises(InputError, match=r"missing column\(s\) clip"):
        load_sheet(p)


def test_every_row_problem_is_named(tmp_path):
    p = sheet(
        tmp_path,
        [
            ("PA001", "UGS", "NW-WJ", "1", "v.mp4"),
            ("P01", "UGS", "NW-WJ", "1", "v.mp4"),
            ("PA002", "XYZ", "NW-WJ", "1", "v.mp4"),
            ("PA003", "UGS", "FW-WJ", "1", "v.mp4"),
            ("PA001", "UGS", "NW-WJ", "1", "v.mp4"),
            ("PA004", "FGS", "FW-WJ", "2", "missing.mp4"),
            ("PA005", "FGS", "FW-WJ", "2", "v.txt"),
        ],
    )
    (tmp_path / "v.txt").write_text("x")
    with pytest.raises(InputError) as e:
        load_sheet(p)
    msg = str(e.value)
    assert "line 3: bad participant ID 'P01'" in msg
    assert "line 4: unknown gait type 'XYZ'" in msg
    assert "line 5: walk class 'FW-WJ' is inconsistent with gait type 'UGS'" in msg
    assert "line 6: duplicate clip PA001/UGS/NW-WJ_1 (also on line 2)" in msg
    assert "line 7: file" in msg and "missing.mp4 does not exist" in msg
    assert "line 8:" in msg and "unsupported extension '.txt'" in msg


def test_frame_range(tmp_path):
    p = tmp_path / "s.tsv"
    (tmp_path / "v.mp4").write_bytes(b"x")
    p.write_text(HEADER.rstrip("\n") + "\tstart_frame\tend_frame\nPA001\tUGS\tNW-WJ\t1\tv.mp4\t10\t40\nPA002\tUGS\tNW-WJ\t1\tv.mp4\t40\t10\n")
    with pytest.raises(InputError, match="end_frame 10 must be greater than start_frame 40"):
        load_sheet(p)


def test_discover_folder(tmp_path):
    for rel in ("PA001/UGS/NW-WJ_1.mp4", "PA001/FGS/FW-WoJ_2.avi"):
        f = tmp_path / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(b"x")
    s = discover(tmp_path)
    assert sorted(x.key for x in s) == ["PA001/FGS/FW-WoJ_2", "PA001/UGS/NW-WJ_1"]
    bad = tmp_path / "PA002/UGS/FW-WJ_1.mp4"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"x")
    with pytest.raises(InputError, match="inconsistent with gait type 'UGS'"):
        discover(tmp_path)
