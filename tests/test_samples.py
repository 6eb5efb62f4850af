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


@pytest.mark.parametrize("col", ["Start_Frame", "end frame"])
def test_unknown_column_is_an_error_naming_the_known_ones(tmp_path, col):
    p = sheet(tmp_path, [("PA001", "UGS", "NW-WJ", "1", "v.mp4", "10")], header=HEADER.rstrip("\n") + f"\t{col}\n")
    with pytest.raises(InputError) as e:
        load_sheet(p)
    msg = str(e.value)
    assert f"unknown column(s) {col!r}" in msg and "optional: start_frame, end_frame" in msg


def test_hash_in_file_name_and_comment_lines(tmp_path):
    (tmp_path / "take#2.mp4").write_bytes(b"x")
    p = tmp_path / "s.tsv"
    p.write_text("# a comment before the header\n" + HEADER + "# a comment row\n\nPA001\tUGS\tNW-WJ\t1\ttake#2.mp4\n")
    (s,) = load_sheet(p)
    assert s.path == tmp_path / "take#2.mp4"


def test_tilde_in_path(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "v.mp4").write_bytes(b"x")
    p = tmp_path / "sub" / "s.tsv"
    p.parent.mkdir()
    p.write_text(HEADER + "PA001\tUGS\tNW-WJ\t1\t~/v.mp4\n")
    (s,) = load_sheet("~/sub/s.tsv")
    assert s.path == tmp_path / "v.mp4"


def test_participant_pattern(tmp_path, monkeypatch):
    from gaitprep.healthgait import naming

    p = sheet(tmp_path, [("LAB-17", "UGS", "NW-WJ", "1", "v.mp4")])
    with pytest.raises(InputError, match="bad participant ID 'LAB-17' \\(expected PA followed by 3 or more digits"):
        load_sheet(p)
    monkeypatch.setattr(naming, "PARTICIPANT_RE", naming.PARTICIPANT_RE)  # restored after the test
    monkeypatch.setenv(naming.PARTICIPANT_ENV, naming.DEFAULT_PARTICIPANT_PATTERN)
    naming.set_participant_pattern(r"LAB-[0-9]+")
    assert [s.key for s in load_sheet(p)] == ["LAB-17/UGS/NW-WJ_1"]
    p2 = sheet(tmp_path, [("PA001", "UGS", "NW-WJ", "1", "v.mp4")])
    with pytest.raises(InputError, match="expected an ID matching participant_id 'LAB-\\[0-9\\]\\+'"):
        load_sheet(p2)


def test_samples_command_takes_the_participant_pattern(tmp_path):
    import subprocess
    import sys

    from conftest import REPO

    p = sheet(tmp_path, [("S-0042", "UGS", "NW-WJ", "1", "v.mp4")])
    env = {"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"}
    run = lambda *a: subprocess.run([sys.executable, "-m", "gaitprep", "samples", "--sheet", str(p), *a], env=env,
                                    capture_output=True, text=True, timeout=120)  # fmt: skip
    assert run().returncode == 1
    r = run("--participant-id", "S-[0-9]+")
    assert r.returncode == 0 and r.stdout.startswith("S-0042/UGS/NW-WJ_1\t")
