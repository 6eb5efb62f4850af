"""Harder synthetic gait cases on exact keypoints: label swaps, edge drop-outs, any frame
rate, limping and step-time variability (no rendering; milliseconds per clip).

A case (:func:`make_case`) is the :class:`~gaitprep.synth.model.Walker` of
:mod:`gaitprep.synth.model` evaluated through a **time warp** and then perturbed the way
2D pose models fail in side view:

* **Time warp** ``tau(t)``: the walker's kinematics are evaluated at model time ``tau``,
  and ``d tau / d t = r`` with ``r = (1 + limp * sin(2 pi phase)) * (1 + var * n(t))``
  (``phase`` the near foot's gait phase, ``n`` a smooth random signal of unit scale,
  0.2-0.6 Hz). Positions depend on ``tau`` only, so a stance foot still stands still and
  every HS/TO stays exact: its real time is ``t = tau^-1(tau_event)``. ``limp > 0``
  makes the step that ends at the far foot's heel strike shorter than the other
  (asymmetric, limping gait); ``var`` gives step-to-step time variability.
* **Frame times**: frames at ``i / fps`` for any ``fps`` (24, 25, 29.97, 30, 50, 60), or
  a variable frame rate (``vfr``: ``fps`` for the first half of the clip, ``fps / 2``
  after it, as phones do), returned as the frame timestamps.
* **Leg-label swaps**: the left and right leg (knee, ankle, heel, toes) exchange labels
  in runs of 0.03-0.3 s covering ``swap_frac`` of the frames.
* **Drop-outs near the frame edges**: while any leg keypoint is within ``edge_px`` of the
  left/right image border, the whole detection is lost with probability 0.6 per frame
  (in runs), and keypoints outside the image are never given.
* **Jitter**: Gaussian noise of ``noise_px`` (px, per coordinate) on every keypoint.

Truth (:func:`case_truth`): every HS/TO with its exact time and fractional frame, the
per-event ``eligible`` flag (the whole lower body at least ``margin`` inside the image
for 0.25 s either side: events a detector must find; others may or may not be found),
and the participant means computed from the true events with the definitions of
:mod:`gaitprep.gait.params`.

Seed sets: :func:`seed_set` ``("A")`` (tuning) and ``("B")`` (reporting) draw the
parameters of :func:`random_case_params` from disjoint seeds.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
import numpy as np

from ..results import HALPE26
from .model import Walker, WalkerParams

#: frame rates the hard cases draw from
FPS_CHOICES = (24.0, 25.0, 29.97, 30.0, 50.0, 60.0)
LEG = ("knee", "ankle", "heel", "big_toe", "small_toe")
#: seeds of the sets (disjoint). A and its extension A2 are for tuning; B was the reporting
#: set of the first version of the label-free detector and was looked at while it was
#: developed (its failures led to two changes), so it is a development check now; C is the
#: reporting set, scored only after the detector was frozen
SEED_SETS = {"A": range(1000, 1016), "A2": range(1016, 1064), "B": range(2000, 2016), "C": range(3000, 3032),
             "S": range(4000, 4016), "S2": range(4100, 4132), "S3": range(4200, 4232)}  # fmt: skip
#: step-to sets: every case of these has a far foot that lands beside the near one
#: (``step_asymmetry`` U(0.6, 0.95)); S for tuning; S2 was the reporting set of the first
#: step-to recovery and was looked at while its timing was improved (one outlier led to the
#: swing/stand test of ``_ds_contact``), so it is a development check now; S3 is the
#: reporting set, scored only after the detector was frozen
STEP_TO_SETS = ("S", "S2", "S3")


@dataclass
class CaseParams:
    """One hard case. ``walker``: the :class:`WalkerParams` fields (its ``fps`` and size are
    used); ``limp`` (0..0.4), ``var`` (0..0.1): time-warp amplitudes; ``vfr``: halve the
    frame rate after the middle of the clip; ``swap_frac`` (0..0.4), ``edge_px`` (px),
    ``noise_px`` (px); ``seed`` for the perturbations."""

    walker: dict
    limp: float = 0.0
    var: float = 0.0
    vfr: bool = False
    swap_frac: float = 0.0
    edge_px: float = 0.0
    noise_px: float = 0.0
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def random_case_params(seed: int, step_to: bool = False) -> CaseParams:
    """A hard case drawn from ``seed``: stature U(150, 195) cm, step length 0.32-0.45 x
    stature, cadence U(85, 130), double support U(0.07, 0.15) per period, either
    direction, fps from :data:`FPS_CHOICES` (1 in 8 variable), 2-4 steps in view
    (image width), limp in 40 % of cases (0.15-0.35), step-time variability U(0, 0.06),
    swaps of U(0.05, 0.30) of the frames, edge drop-outs within 0.15-0.4 leg lengths, jitter
    U(0.3, 1.5) px. ``step_to``: also a step-to gait, the far foot landing beside the near
    one (``step_asymmetry`` U(0.6, 0.95)) and 4-7 steps in view, both drawn from their own
    generators so that the other draws of a seed stay the same."""
    r = np.random.default_rng(seed)
    H = float(r.uniform(150, 195))
    step = float(r.uniform(0.32, 0.45) * H)
    n_view = float(r.uniform(2.0, 4.0))
    if step_to:  # long passes (4-7 steps in view): the one-foot-per-stride rhythm shows
        n_view = float(np.random.default_rng(seed + 7).uniform(4.0, 7.0))
    width = 960 if r.uniform() < 0.5 else 1280
    height = 540 if width == 960 else 720
    view_cm = n_view * step + 0.6 * H  # the body needs ~0.6 H of the width beside the steps
    px_per_cm = width / view_cm
    fps = float(FPS_CHOICES[int(r.integers(len(FPS_CHOICES)))])
    w = dict(
        cadence=round(float(r.uniform(85, 130)), 2), step_length_cm=round(step, 2),
        double_support_fraction=round(float(r.uniform(0.07, 0.15)), 4), height_cm=round(H, 1),
        direction=("left_to_right", "right_to_left")[int(r.integers(2))], px_per_cm=round(px_per_cm, 4),
        fps=fps, width=width, height=height, seed=int(seed), background="plain",
    )  # fmt: skip
    if step_to:
        w["step_asymmetry"] = round(float(np.random.default_rng(seed + 104729).uniform(0.6, 0.95)), 3)
    leg_px = 0.49 * H * px_per_cm
    return CaseParams(
        walker=w, limp=float(r.uniform(0.15, 0.35)) if r.uniform() < 0.4 else 0.0, var=float(r.uniform(0, 0.06)),
        vfr=bool(r.uniform() < 0.125), swap_frac=float(r.uniform(0.05, 0.30)), edge_px=float(r.uniform(0.15, 0.4) * leg_px),
        noise_px=float(r.uniform(0.3, 1.5)), seed=int(seed),
    )  # fmt: skip


def seed_set(name: str) -> list[CaseParams]:
    """The cases of seed set ``name``: ``"A"``, ``"A2"`` (tuning), ``"B"`` (development
    check), ``"C"`` (reporting); see :data:`SEED_SETS`."""
    if name not in SEED_SETS:
        raise ValueError(f"unknown seed set {name!r} (expected one of {', '.join(SEED_SETS)})")
    return [random_case_params(s, step_to=name in STEP_TO_SETS) for s in SEED_SETS[name]]


class HardCase:
    """A :class:`CaseParams` made concrete: the walker, the time warp and the frame times."""

    def __init__(self, cp: CaseParams):
        self.cp = cp
        wp = WalkerParams(**cp.walker)
        probe = Walker(wp)
        # the clip: enter, cross, leave, in model time; the warp keeps the mean rate ~1
        tau_end = probe.duration
        wp = WalkerParams(**dict(cp.walker, duration_s=tau_end * 1.6 + 1.0))
        self.walker = Walker(wp)
        self.tau_end = tau_end
        rng = np.random.default_rng(cp.seed + 7919)
        dtau = 1e-3
        tau = np.arange(0.0, tau_end + 1.0, dtau)
        freqs = rng.uniform(0.2, 0.6, 3)
        ph = rng.uniform(0, 2 * np.pi, 3)
        noise = sum(np.sin(2 * np.pi * f * tau + q) for f, q in zip(freqs, ph)) / math.sqrt(1.5)
        phase = self.walker.phase_near(tau)
        rate = (1 + cp.limp * np.sin(2 * np.pi * phase)) * (1 + cp.var * noise)
        rate = np.maximum(rate, 0.2)
        t_of_tau = np.concatenate([[0.0], np.cumsum(dtau / rate[:-1])])
        self._tau, self._t = tau, t_of_tau
        t_end = float(np.interp(tau_end, tau, t_of_tau))
        fps = float(cp.walker["fps"])
        if cp.vfr:
            half = 0.5 * t_end
            t1 = np.arange(0.0, half, 1.0 / fps)
            t2 = np.arange(t1[-1] + 2.0 / fps, t_end, 2.0 / fps)
            self.times = np.concatenate([t1, t2])
        else:
            self.times = np.arange(0.0, t_end, 1.0 / fps)

    def tau(self, t):
        """Model time (s) at real time ``t`` (s)."""
        return np.interp(t, self._t, self._tau)

    def real_time(self, tau):
        """Real time (s) at model time ``tau`` (s)."""
        return np.interp(tau, self._tau, self._t)


def _in_image(xy, w, h) -> bool:
    return bool(0 <= xy[0] < w and 0 <= xy[1] < h)


def case_keypoints(cp: CaseParams) -> tuple[list[dict], dict]:
    """The perturbed pose records of a case and its frame timing.

    Returns:
        ``(records, timing)``: the spec's pose records ``[{"frame": i, "joints": {name:
        {"x", "y", "score"}} | None}]`` (Halpe-26 names, px) and ``{"frames": [i...],
        "t_s": [s...], "header_fps": fps}`` in the provenance ``timing`` format
        (:func:`gaitprep.gait.io.read_provenance_timing`).
    """
    hc = HardCase(cp)
    wk, p = hc.walker, hc.walker.p
    rng = np.random.default_rng(cp.seed)
    n = len(hc.times)
    # swap runs covering swap_frac of the frames
    swapped = np.zeros(n, bool)
    fps = float(cp.walker["fps"])
    while swapped.mean() < cp.swap_frac:
        ln = max(1, int(round(rng.uniform(0.03, 0.3) * fps)))
        a = int(rng.integers(0, max(1, n - ln)))
        swapped[a : a + ln] = True
    drop_run = 0
    dropped = np.zeros(n, bool)
    recs = []
    for i, t in enumerate(hc.times):
        b = wk.image_body(float(hc.tau(t)))
        joints = {}
        for name in HALPE26:
            xy = (
                np.asarray(b[name], float) + rng.normal(0, cp.noise_px, 2)
                if cp.noise_px
                else np.asarray(b[name], float)
            )
            if _in_image(xy, p.width, p.height):
                joints[name] = {"x": float(xy[0]), "y": float(xy[1]), "score": 1.0}
        if swapped[i]:
            for j in LEG:
                lj, rj = joints.get(f"l_{j}"), joints.get(f"r_{j}")
                joints.pop(f"l_{j}", None)
                joints.pop(f"r_{j}", None)
                if rj is not None:
                    joints[f"l_{j}"] = rj
                if lj is not None:
                    joints[f"r_{j}"] = lj
        if cp.edge_px > 0:
            xs = [b[f"{s}_{j}"][0] for s in "lr" for j in ("ankle", "heel", "big_toe", "knee")]
            near = min(min(xs), p.width - 1 - max(xs)) < cp.edge_px
            if near and drop_run == 0 and rng.uniform() < 0.6:
                drop_run = int(rng.integers(1, max(2, int(0.2 * fps))))
            if drop_run > 0:
                drop_run -= 1
                joints = {}
                dropped[i] = True
        recs.append({"frame": i, "joints": joints or None})
    timing = {"frames": list(range(n)), "t_s": [float(x) for x in hc.times], "header_fps": fps, "dropped": [int(i) for i in np.flatnonzero(dropped)],
              "swapped": [int(i) for i in np.flatnonzero(swapped)]}  # fmt: skip
    return recs, timing


def params_from_events(events: list[dict], hs_ok) -> dict:
    """Participant means from true events (definitions of :mod:`gaitprep.gait.params`),
    over heel strikes ``e`` with ``hs_ok(e)``; events are dicts with ``foot``, ``event``,
    ``time`` (s) and optionally ``pass`` (intervals never join two passes). An interval
    is used only when the events around it come in gait-cycle
    order (none missing in between), so hand labels that skip an occluded event give
    no wrong interval. Returns the means (s) and ``cadence_steps_per_min``."""
    hs = [e for e in events if e["event"] == "HS"]
    to = [e for e in events if e["event"] == "TO"]
    acc: dict = {
        k: [] for k in ("step_time_s", "stride_time_s", "stance_s", "swing_s", "double_support_s", "single_support_s")
    }

    def nxt(lst, foot, t, ps):
        return next((x for x in lst if x["foot"] == foot and x["time"] > t and x.get("pass") == ps), None)

    def prv(lst, foot, t, ps):
        return next((x for x in reversed(lst) if x["foot"] == foot and x["time"] < t and x.get("pass") == ps), None)

    for e in hs:
        if not hs_ok(e):
            continue
        f, o, t, q = e["foot"], ("right" if e["foot"] == "left" else "left"), e["time"], e.get("pass")
        po, ps = prv(hs, o, t, q), prv(hs, f, t, q)
        ts, ns, to_o, no = nxt(to, f, t, q), nxt(hs, f, t, q), nxt(to, o, t, q), nxt(hs, o, t, q)
        # an interval counts only when no event between its ends is missing (hand labels
        # may skip occluded events): the events must come in the order of a gait cycle
        if po and (ps is None or ps["time"] < po["time"]):
            acc["step_time_s"].append(t - po["time"])
        if ps and po and ps["time"] < po["time"]:
            acc["stride_time_s"].append(t - ps["time"])
        if ts and (ns is None or ts["time"] < ns["time"]) and (no is None or no["time"] < ts["time"]):
            acc["stance_s"].append(ts["time"] - t)
            if ns:
                acc["swing_s"].append(ns["time"] - ts["time"])
        if to_o and no and to_o["time"] < no["time"] and (ts is None or to_o["time"] < ts["time"]):
            acc["double_support_s"].append(to_o["time"] - t)
            acc["single_support_s"].append(no["time"] - to_o["time"])
    out = {k: float(np.mean(v)) if v else float("nan") for k, v in acc.items()}
    out["cadence_steps_per_min"] = 120.0 / out["stride_time_s"] if np.isfinite(out["stride_time_s"]) else float("nan")
    return out


def case_truth(cp: CaseParams, margin_frac: float = 0.1, around_s: float = 0.25) -> dict:
    """The truth of a case: ``{"events": [{"foot", "event", "time" (s), "frame" (fractional
    frame), "eligible"}], <participant means>, "step_length_cm", "stride_length_cm",
    "speed_m_per_s", "params": case dict}``.

    ``eligible``: hips, knees, ankles, heels and toes are inside the image by at least
    ``max(5 px, margin_frac x leg length)`` over ``around_s`` either side of the event
    and the frame rate in that window is the clip's. Participant means are over the
    intervals between eligible events (the steps the video shows).
    """
    hc = HardCase(cp)
    wk, p = hc.walker, hc.walker.p
    leg_px = (wk.thigh + wk.shank) * p.px_per_cm
    margin = max(5.0, margin_frac * leg_px)
    frames_idx = np.arange(len(hc.times), dtype=float)
    t_last = float(hc.times[-1])
    ev = []
    for e in wk.events(0.0, hc.tau_end + 0.5):
        t = float(hc.real_time(e["time"]))
        if t > t_last:
            continue
        ok = True
        for tt in np.linspace(t - around_s, t + around_s, 11):
            if tt < 0 or tt > t_last:
                ok = False
                break
            b = wk.image_body(float(hc.tau(tt)))
            xs = [b[f"{s}_{j}"][0] for s in "lr" for j in ("hip", "knee", "ankle", "heel", "big_toe")]
            if min(xs) < margin or max(xs) > p.width - 1 - margin:
                ok = False
                break
        ev.append(
            {
                "foot": e["foot"],
                "event": e["event"],
                "time": t,
                "frame": float(np.interp(t, hc.times, frames_idx)),
                "eligible": ok,
            }
        )
    out = params_from_events([e for e in ev if e["eligible"]], lambda e: True)
    out["events"] = ev
    out["step_length_cm"] = float(p.step_length_cm)
    out["stride_length_cm"] = float(2 * p.step_length_cm)
    elig = [e["time"] for e in ev if e["event"] == "HS" and e["eligible"]]
    # mean speed over the eligible steps: distance / time (the walker's tau-speed is constant)
    if len(elig) >= 2:
        dist = wk.speed * (hc.tau(elig[-1]) - hc.tau(elig[0]))
        out["speed_m_per_s"] = float(dist / (elig[-1] - elig[0]) / 100.0)
    else:
        out["speed_m_per_s"] = float("nan")
    out["params"] = cp.to_dict()
    out["fps"] = float(cp.walker["fps"])
    out["width"], out["height"] = int(p.width), int(p.height)
    out["px_per_cm"] = float(p.px_per_cm)
    return out


def make_case(cp: CaseParams, around_s: float = 0.25, max_drop_run_s: float = 0.1) -> tuple[list[dict], dict, dict]:
    """``(records, timing, truth)`` of a case (:func:`case_keypoints`, :func:`case_truth`).

    An event is also not ``eligible`` when the detections dropped near the frame edges
    leave a gap longer than ``max_drop_run_s`` within ``around_s`` of it (no detector can
    see it); the participant means are recomputed over the remaining eligible events.
    """
    recs, timing = case_keypoints(cp)
    truth = case_truth(cp, around_s=around_s)
    t = np.asarray(timing["t_s"])
    drop = np.zeros(len(t), bool)
    drop[timing["dropped"]] = True
    from ..gait.preprocess import runs

    gaps = [
        (t[a], t[min(b, len(t) - 1)])
        for a, b in runs(drop)
        if t[min(b, len(t) - 1)] - t[max(a - 1, 0)] > max_drop_run_s
    ]
    for e in truth["events"]:
        if e["eligible"] and any(a - around_s <= e["time"] <= b + around_s for a, b in gaps):
            e["eligible"] = False
    truth.update(params_from_events([e for e in truth["events"] if e["eligible"]], lambda e: True))
    return recs, timing, truth


def case_summary(cp: CaseParams) -> str:
    """One line describing a case, for bench tables."""
    w = cp.walker
    return (
        f"H{w['height_cm']:.0f} cad{w['cadence']:.0f} step{w['step_length_cm']:.0f} {w['direction'][:1].upper()}"
        f" {w['fps']:g}fps{'(vfr)' if cp.vfr else ''} limp{cp.limp:.2f} var{cp.var:.2f} swap{cp.swap_frac:.2f}"
        + (f" stepto{w['step_asymmetry']:.2f}" if w.get("step_asymmetry") else "")
    )


__all__ = [
    "CaseParams",
    "HardCase",
    "case_keypoints",
    "case_summary",
    "case_truth",
    "make_case",
    "random_case_params",
    "seed_set",
]
