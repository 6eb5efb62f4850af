"""The end line of a run (gaitprep.reporting.run_report.format_summary): where the results
are, clips, jobs, and frames counted once per clip."""

from gaitprep.reporting import run_report


def test_summary_counts_frames_once_per_clip():
    """One 159-frame clip through three frame modalities and flow: 159 frames, not 477."""
    jobs = {m: {"frames": 159, "frames_skipped": []} for m in ("pose", "silhouette", "segmentation")}
    jobs["flow.TVL1"] = {"frames": 158, "frames_skipped": []}
    rep = {"root": "results", "failures": [], "warnings": [],
           "totals": {"clips": 1, "clips_complete": 1, "clips_failed": 0, "jobs_done": 4, "jobs_failed": 0,
                      "frames": 477, "frames_skipped": 0},
           "clips": {"PA000/UGS/NW-WoJ_1": {"jobs": jobs}}}  # fmt: skip
    line = run_report.format_summary(rep).splitlines()[0]
    assert "1 of 1 clips complete, 4 modality jobs done, 0 jobs failed; 159 frames, 0 undecodable" in line
    rep["clips"]["PA001/UGS/NW-WoJ_1"] = {"jobs": {"pose": {"frames": 60, "frames_skipped": []}}}
    line = run_report.format_summary(rep).splitlines()[0]
    assert "60-159 frames per clip (219 in all)" in line and line.endswith("results in results/")
