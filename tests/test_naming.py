import pytest

from gaitprep.healthgait import naming
from gaitprep.healthgait.naming import ClipId


def test_paths_follow_the_spec(tmp_path):
    c = ClipId("PA000", "UGS", "NW-WJ", "1")
    assert naming.pose_path("R", c).as_posix() == "R/pose/PA000/UGS/NW-WJ_1_AlphaPose.json"
    assert naming.silhouette_dir("R", c).as_posix() == "R/silhouette/PA000/UGS/NW-WJ_1_YOLOV8"
    assert naming.segmentation_dir("R", c).as_posix() == "R/semantic_segmentation/PA000/UGS/NW-WJ_1_DensePose"
    c2 = ClipId("PA397", "FGS", "FW-WoJ", "1")
    assert naming.flow_dir("R", c2, "TVL1").as_posix() == "R/optical_flow/PA397/FGS/TVL1/FW-WoJ_1"
    assert naming.flow_dir("R", c2, "GMFLOW").as_posix() == "R/optical_flow/PA397/FGS/GMFLOW/FW-WoJ_1"
    with pytest.raises(ValueError, match="unknown flow method"):
        naming.flow_dir("R", c2, "RAFT")


def test_frame_names():
    assert naming.frame_name(7) == "007"
    assert naming.frame_width(999) == 3
    assert naming.frame_width(1000) == 4
    assert naming.frame_name(12, naming.frame_width(1200)) == "0012"


@pytest.mark.parametrize(
    "fields, message",
    [
        (("PA1", "UGS", "NW-WJ", "1"), "bad participant ID 'PA1'"),
        (("PA001", "XGS", "NW-WJ", "1"), "unknown gait type 'XGS'"),
        (("PA001", "UGS", "FW-WJ", "1"), "inconsistent with gait type 'UGS'"),
        (("PA001", "FGS", "NW-WoJ", "2"), "inconsistent with gait type 'FGS'"),
        (("PA001", "UGS", "NW-WJ", "3"), "bad clip '3'"),
    ],
)
def test_clip_id_validation(fields, message):
    with pytest.raises(ValueError, match=message):
        ClipId(*fields)


def test_clip_key_roundtrip():
    c = ClipId("PA1234", "FGS", "FW-WJ", "2")
    assert ClipId.from_key(c.key) == c
    assert c.key == "PA1234/FGS/FW-WJ_2"
