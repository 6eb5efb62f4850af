"""Gait aggregates that survive a missed contact, per-foot means, symmetry, CV, timing from
event ``t`` and the steps CSV (issue 12 item 4), on exact synthetic keypoints (fast)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from gaitprep.gait.clip import analyze_clip, steps_csv_path, write_outputs
from gaitprep.gait.io import series_from_records
from gaitprep.gait.params import coefficient_of_variation, event_t, symmetry_index, symmetry_ratio, zeni_steps
from gaitprep.synth import WalkerParams, walker_keypoints, walker_truth

CLIP = "PA000/UGS/NW-WoJ_1"
#: the default config's demo walker (exact keypoints)
DEMO = dict(direction="right_to_left", cadence=110, step_length_cm=65, seed=0)
L2R = dict(direction="left_to_right", cadence=100, step_length_cm=60, seed=1)


def run(cfg, overrides=None, fps=None):
    p = WalkerParams(**cfg)
    s = series_from_records(walker_keypoints(p), "synth", p.width, p.height)
    res = analyze_clip(s, fps or p.fps, CLIP, {"method": "px_per_cm", "px_per_cm": p.px_per_cm}, overrides=overrides)
    return res, p


def remove(foot, frame):
    return pd.DataFrame([{"clip": CLIP, "foot": foot, "event": "HS", "frame": float(round(frame)), "action": "remove"}])


@pytest.mark.parametrize("cfg", [DEMO, L2R], ids=["r2l", "l2r"])
def test_a_deleted_heel_strike_is_not_a_step(cfg):
    """Deleting any one inner heel strike leaves the means at the truth (before: cadence
    110 -> 73.3 and stride 130 -> 194.5 cm on the demo walker) and says what was skipped."""
    ref, p = run(cfg)
    truth = walker_truth(p)
    hs = [e for e in ref.events if e["event"] == "HS"]
    assert len(hs) >= 5
    for victim in hs[1:-1]:
        res, _ = run(cfg, remove(victim["foot"], victim["frame"]))
        m = res.summary["means"]
        assert abs(m["cadence_steps_per_min"] - truth["cadence_steps_per_min"]) < 0.5, victim
        assert abs(m["stride_length_cm"] - 2 * p.step_length_cm) < 1.0, victim
        assert abs(m["step_length_cm"] - p.step_length_cm) < 1.0, victim
        assert abs(m["speed_m_per_s"] - ref.summary["means"]["speed_m_per_s"]) < 0.01
        skipped = res.steps[res.steps["skipped"] != ""]
        assert len(skipped) >= 1 and res.summary["quality"]["gaps_skipped"]
        assert any("missed contact" in w and "not counted as steps" in w for w in res.summary["warnings"]), res.summary["warnings"]
        # the skipped values are NaN in the table
        for _, r in skipped.iterrows():
            for part in r["skipped"].split("; "):
                col = part.split(":")[0]
                assert np.isnan(r[col]), (col, r)


def test_two_missing_contacts_in_a_row_are_skipped_by_duration():
    """Both feet's contacts missing (an occlusion) on a 14-contact walk: the 3-step
    interval and the 2-stride strides are caught by their duration against the median stride."""
    cfg = dict(L2R, px_per_cm=1.0)
    ref, p = run(cfg)
    hs = [e for e in ref.events if e["event"] == "HS"]
    ov = pd.concat([remove(hs[3]["foot"], hs[3]["frame"]), remove(hs[4]["foot"], hs[4]["frame"])])
    res, _ = run(cfg, ov)
    m = res.summary["means"]
    assert abs(m["cadence_steps_per_min"] - 100) < 0.5 and abs(m["stride_length_cm"] - 120) < 1.0
    assert res.steps["step_time_s"].max() < 0.7  # no 3-step "step"
    assert res.steps["skipped"].str.contains("median stride").any()
    assert not res.summary["quality"]["refused"]


def test_spurious_heel_strikes_are_refused_by_the_double_support_rhythm(monkeypatch):
    """More heel strikes than double-support periods: spurious contacts (on a rendered
    walker of a blind sweep, BlazePose lost the legs for a few frames mid-pass and drew two
    maxima of the leading heel where there was one contact: cadence +30 steps/min, step
    length -10 cm, written without a word, because the inter-foot distance was fooled by
    the same failure). Two extra heel strikes on a slow walk; the cadence-agreement check
    is switched off to stand for that fooled spectral estimate: the label-free
    double-support rhythm alone refuses every CSV parameter, with the reason."""
    import gaitprep.gait.quality as qmod

    monkeypatch.setattr(qmod, "CADENCE_AGREEMENT", 1e9)
    cfg = dict(L2R, cadence=70)
    ref, p = run(cfg)
    hs = [e for e in ref.events if e["event"] == "HS"]
    extra = [
        {"clip": CLIP, "foot": a["foot"], "event": "HS", "frame": float(round((a["frame"] + b["frame"]) / 2)), "action": "add"}
        for a, b in list(zip(hs, hs[1:]))[1:-1:2]
    ]
    assert len(extra) >= 2
    assert ref.summary["quality"]["checks"]["double_support_rhythm"]["ok"] is True
    res, _ = run(cfg, pd.DataFrame(extra))
    q = res.summary["quality"]
    ds = q["checks"]["double_support_rhythm"]
    assert ds["ok"] is False and ds["ratio"] > qmod.MAX_DS_RHYTHM_RATIO, ds
    assert abs(ds["double_support"] - 70) < 5
    for k in ("cadence_steps_per_min", "step_length_cm", "stride_length_cm", "single_support_s", "double_support_s", "speed_m_per_s"):
        assert k in q["refused"], k  # (the support times may be refused first by the stance fraction)
    for k in ("cadence_steps_per_min", "step_length_cm", "stride_length_cm", "speed_m_per_s"):
        assert "double_support_rhythm" in q["refused"][k] and "spurious" in q["refused"][k], (k, q["refused"].get(k))
    assert any("more heel strikes than double-support periods" in w for w in res.summary["warnings"])


def test_a_spurious_contact_inside_a_pass_is_skipped_not_averaged(monkeypatch):
    """One spurious heel strike in the middle of a 14-contact walk, the feet after it
    re-alternated as the detector assigns them (what a pose-model failure mid-pass makes: on
    a rendered walker of a blind sweep, cadence +7 steps/min and step length -6 cm without a
    word): two short steps, too few for the double-support rhythm and the spectral cadence
    to object. Rule 5 of the gap rules skips the step far from the same foot's others and
    every value timed from its two ends: the means stay at the truth."""
    import gaitprep.gait.clip as clip_mod
    from gaitprep.gait.params import INNER_STEP_TOL

    cfg = dict(L2R, px_per_cm=1.0)
    ref, p = run(cfg)
    hs = [e for e in ref.events if e["event"] == "HS"]
    assert len(hs) >= 12
    at = hs[6]["frame"] + 0.3 * (hs[7]["frame"] - hs[6]["frame"])
    real = clip_mod.zeni_events

    def with_spurious(prep, **kw):
        ev = real(prep, **kw)
        flip = {"left": "right", "right": "left"}
        for e in ev:
            if e["frame"] > at:
                e["foot"] = flip[e["foot"]]
        extra = dict(next(e for e in ev if e["event"] == "HS"), frame=at, foot=flip[hs[6]["foot"]])
        extra["t"] = extra["time"] = at / p.fps
        extra["extremum_frame"] = at
        return sorted(ev + [extra], key=lambda e: e["frame"])

    monkeypatch.setattr(clip_mod, "zeni_events", with_spurious)
    res, _ = run(cfg)
    m, q = res.summary["means"], res.summary["quality"]
    assert not q["refused"], q["refused"]
    assert abs(m["cadence_steps_per_min"] - 100) < 1.0, m["cadence_steps_per_min"]
    # (timing only: the injected feet are not followed by the relabelling of the legs the
    # detector does, so the contact positions after it are read from the wrong leg)
    for k in ("step_time_s", "stride_time_s", "double_support_s", "single_support_s"):
        assert abs(m[k] - ref.summary["means"][k]) < 0.01, (k, m[k], ref.summary["means"][k])
    why = res.steps["skipped"]
    assert why.str.contains(f"more than {INNER_STEP_TOL:.0%}").sum() >= 1
    assert why.str.contains("one end of a step found far off inside the pass").sum() >= 1
    # the clean walk loses nothing to rule 5
    assert not ref.steps["skipped"].str.contains("inside the pass").any()


def test_ambiguous_gaps_are_refused_not_written():
    """On a short walk with two of its inner contacts gone (nearly) every stride spans the
    gap, so no duration rule can see it; the spectral cadence (100) disagrees with the
    events' (under 70: every stride left spans the gap) and every CSV parameter is refused,
    with the reason."""
    ref, p = run(L2R)
    hs = [e for e in ref.events if e["event"] == "HS"]
    ov = pd.concat([remove(hs[2]["foot"], hs[2]["frame"]), remove(hs[3]["foot"], hs[3]["frame"])])
    res, _ = run(L2R, ov)
    q = res.summary["quality"]
    assert abs(q["spectral_cadence"]["cadence_steps_per_min"] - 100) < 2
    assert q["computed"]["cadence_steps_per_min"] < 70
    for k in ("cadence_steps_per_min", "step_length_cm", "stride_length_cm", "speed_m_per_s", "single_support_s", "double_support_s"):
        assert np.isnan(res.summary["means"][k]) and k in q["refused"], k
    assert "inter-foot distance" in q["refused"]["cadence_steps_per_min"]
    assert any("cadence_steps_per_min refused" in w for w in res.summary["warnings"])


def test_per_foot_symmetry_and_cv_on_a_symmetric_walker():
    res, p = run(DEMO)
    s = res.summary
    for foot in ("left", "right"):
        assert abs(s["per_foot"][foot]["step_length_cm"] - 65) < 0.5
        assert abs(s["per_foot"][foot]["step_time_s"] - 60 / 110) < 0.01
    assert abs(s["symmetry_index_pct"]["step_length_cm"]) < 1.0
    assert 1.0 <= s["symmetry_ratio"]["step_time_s"] < 1.02
    assert s["cv_pct"]["stride_time_s"] < 1.0 and s["n_values"]["stride_time_s"] >= 3
    assert json.loads(json.dumps(s["cv_pct"], allow_nan=True))


def test_symmetry_and_cv_formulas():
    assert symmetry_index(60.0, 40.0) == pytest.approx(40.0)  # 100 * 20 / 50
    assert symmetry_index(40.0, 60.0) == pytest.approx(-40.0)
    assert np.isnan(symmetry_index(np.nan, 1.0))
    assert symmetry_ratio(0.4, 0.6) == pytest.approx(1.5)
    assert coefficient_of_variation([1.0, 1.1, 0.9]) == pytest.approx(10.0)
    assert np.isnan(coefficient_of_variation([1.0, 1.1]))  # too few values


def test_times_come_from_event_t():
    """Durations use each event's ``t`` (real timestamps) when the event detector gives it:
    stretching every t by 2 doubles every duration; without ``t``, frame / fps is used."""
    ref, p = run(DEMO)
    assert event_t({"frame": 30.0}, 30.0) == 1.0 and event_t({"frame": 30.0, "t": 2.5}, 30.0) == 2.5
    stretched = []
    for e in ref.events:
        e = dict(e, t=2 * e["frame"] / p.fps)
        if "extremum_frame" in e:
            e["extremum_t"] = 2 * e["extremum_frame"] / p.fps
        stretched.append(e)
    a = zeni_steps(ref.events, ref.prep, None, CLIP)
    b = zeni_steps(stretched, ref.prep, None, CLIP)
    for c in ("step_time_s", "stride_time_s", "stance_s", "swing_s"):
        ok = np.isfinite(a[c])
        assert ok.any() and np.allclose(b[c][ok], 2 * a[c][ok]), c
    assert np.allclose(b["hs_time"], 2 * a["hs_time"])


def test_steps_csv_beside_parquet(tmp_path):
    res, _ = run(DEMO)
    pq = tmp_path / "gait_steps" / "PA000" / "UGS" / "NW-WoJ_1.parquet"
    write_outputs(res, pq, tmp_path / "s.json")
    csv = steps_csv_path(pq)
    assert csv == pq.with_suffix(".csv") and csv.is_file()
    a, b = pd.read_parquet(pq), pd.read_csv(csv, keep_default_na=True)
    assert list(a.columns) == list(b.columns) and len(a) == len(b)
    assert np.allclose(a["step_length_cm"], b["step_length_cm"], atol=1e-3, equal_nan=True)
    s = json.loads((tmp_path / "s.json").read_text())
    assert {"per_foot", "symmetry_index_pct", "symmetry_ratio", "cv_pct", "quality"} <= set(s)


@pytest.mark.parametrize("end", ["first", "last"])
def test_a_mistimed_contact_at_a_pass_end_is_skipped_not_averaged(end):
    """A pass's first (or last) heel strike 8 frames (0.27 s, a quarter of a stride) off, as
    when a pose model fails while the walker comes into (or leaves) the view: the short (or long) step and stride at that
    end are skipped with the reason (docs/gait_quality.md rule 4), so cadence and step
    length stay at the clean walk's."""
    ref, p = run(DEMO)
    hs = [e for e in ref.events if e["event"] == "HS"]
    e = hs[0] if end == "first" else hs[-1]
    shift = 8.0 if end == "first" else -8.0
    ov = pd.concat([remove(e["foot"], e["frame"]),
                    pd.DataFrame([{"clip": CLIP, "foot": e["foot"], "event": "HS", "frame": float(round(e["frame"] + shift)), "action": "add"}])])  # fmt: skip
    res, _ = run(DEMO, ov)
    m, m0 = res.summary["means"], ref.summary["means"]
    assert abs(m["cadence_steps_per_min"] - m0["cadence_steps_per_min"]) < 0.5
    assert abs(m["step_length_cm"] - m0["step_length_cm"]) < 1.0
    assert res.steps["skipped"].str.contains("at a pass end").sum() >= 1
    assert any("pass end" in w and "not counted as steps" in w for w in res.summary["warnings"]), res.summary["warnings"]
    # every value timed from the mistimed contact goes with it: its own stance and double
    # support, the stride that starts there (first) or the swing that ends there (last)
    st = res.steps
    row = st.index[np.isclose(st["hs_frame"], round(e["frame"] + shift), atol=1.0)]
    assert len(row) == 1, st[["foot", "hs_frame"]]
    k = st.index.get_loc(row[0])
    assert st.iloc[k][["stance_s", "double_support_s", "step_time_s", "stride_time_s"]].isna().all()
    same = st[st["foot"] == e["foot"]]
    j = same.index.get_loc(row[0])
    if end == "first":
        assert np.isnan(same.iloc[j + 1]["stride_time_s"]) and np.isnan(same.iloc[j + 1]["stride_length_cm"])
    else:
        assert np.isnan(same.iloc[j - 1]["swing_s"])
    assert st["skipped"].str.contains(f"heel strike at frame {round(e['frame'] + shift):.0f}, found mistimed").any()


@pytest.mark.parametrize("end", ["first", "last"])
def test_a_misplaced_contact_at_a_pass_end_is_skipped_not_averaged(monkeypatch, end):
    """A pass's first (or last) heel strike timed right but placed on the other foot (what a
    pose model does to a foot at the image border: on a rendered walker of a blind sweep the
    exiting foot was read where the stance foot stood, a step of 0.3 cm and a stride of one
    step, and step length came out 12 cm short without a word). Rule 4 compares a pass end's
    lengths too: the step and stride there are skipped with the reason, and so is every
    value timed from that contact; the means stay at the clean walk's."""
    import gaitprep.gait.params as params_mod

    ref, p = run(DEMO)
    hs = [e for e in ref.events if e["event"] == "HS"]
    bad, other = (hs[0], hs[1]) if end == "first" else (hs[-1], hs[-2])
    real = params_mod.contact_x

    def misplaced(prep, calib, foot, frame, until=None):
        if abs(frame - bad["frame"]) < 0.5:  # read from where the other foot stands
            return real(prep, calib, other["foot"], other["frame"], None)
        return real(prep, calib, foot, frame, until)

    monkeypatch.setattr(params_mod, "contact_x", misplaced)
    res, _ = run(DEMO)
    m, m0 = res.summary["means"], ref.summary["means"]
    assert abs(m["step_length_cm"] - m0["step_length_cm"]) < 0.5, (m["step_length_cm"], m0["step_length_cm"])
    assert abs(m["stride_length_cm"] - m0["stride_length_cm"]) < 0.5
    assert abs(m["cadence_steps_per_min"] - m0["cadence_steps_per_min"]) < 0.5
    st = res.steps
    assert st["skipped"].str.contains("cm at a pass end departs").any(), st["skipped"].tolist()
    assert st["skipped"].str.contains(f"heel strike at frame {bad['frame']:.0f}, found mistimed").any()
    # the clean walk loses nothing to the length check
    assert not ref.steps["skipped"].str.contains(" cm ").any()


def test_a_step_to_walks_short_steps_are_not_judged_by_half_the_stride():
    """A step-to walk's far-foot steps are a few cm (its other steps most of the stride): a
    pass end's step length is compared with the same foot's steps (or the stride less the
    other foot's step), never with half the stride, and short ones within a quarter of the
    median stride of that are kept."""
    cfg = dict(L2R, step_asymmetry=0.85)
    res, p = run(cfg)
    assert not res.steps["skipped"].str.contains(" cm ").any(), res.steps["skipped"].tolist()
    m = res.summary["means"]
    assert abs(m["stride_length_cm"] - 2 * p.step_length_cm) < 1.0


@pytest.mark.slow
def test_rendered_walker_with_its_exit_contact_on_the_wrong_foot(tmp_path):
    """The walker of the blind renderer sweep 9001 (#16: 130 steps/min, 71 cm steps, 30 fps,
    right to left) through BlazePose: its last heel strike, as the foot leaves the image,
    was read where the other foot stood (step 0.26 cm): step length 59.3 cm instead of 71
    and cadence +2.1 steps/min were written. Now within 0.5 cm and 0.5 steps/min."""
    from gaitprep.gait.validation import synth_blazepose

    from conftest import bench_module

    ga = bench_module("gait_accuracy")

    cfg = ga.sweep_configs(20, 9001)[16]
    recs, truth, p = synth_blazepose(cfg, tmp_path, tag="sweep9001_16")
    _, res = ga._rendered_clip(recs, p)
    m = res.summary["means"]
    assert abs(m["step_length_cm"] - truth["step_length_cm"]) < 0.5, m["step_length_cm"]
    assert abs(m["cadence_steps_per_min"] - truth["cadence_steps_per_min"]) < 0.5, m["cadence_steps_per_min"]
    assert res.steps["skipped"].str.contains("cm at a pass end departs").any()
