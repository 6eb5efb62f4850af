"""Cleaning keypoint trajectories before event detection.

Order (:func:`prepare`): mask unusable frames -> drop isolated detections -> drop
single-frame glitches -> fix left/right leg swaps by continuity ->
interpolate short gaps -> zero-phase low-pass filter -> pelvis, walking direction, passes.

Filter: 4th-order Butterworth low-pass, applied forward and backward
(:func:`scipy.signal.sosfiltfilt`, zero phase, so extrema and hence gait events are not
shifted in time; the effective order is 8). Default cutoff 6 Hz: Winter's residual
analysis puts the optimal cutoff of walking marker trajectories at about 6 Hz (Winter,
*Biomechanics and Motor Control of Human Movement*, 4th ed. 2009, ch. 3); the foot's
fore-aft excursion relative to the pelvis has its energy at the stride frequency
(~1 Hz) and its first harmonics, well below 6 Hz, while 2D pose jitter is broadband. At
~30 fps the Nyquist frequency is 15 Hz, so 6 Hz is a valid digital cutoff.
"""

from __future__ import annotations

import warnings as _warnings
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
from scipy.signal import butter, sosfiltfilt

from ..video import UNIFORM_TOLERANCE
from .io import PoseSeries

SIDES = ("l", "r")
FOOT_NAME = {"l": "left", "r": "right"}
#: joints that must be inside the image margin for a frame to count (arms may leave it)
BORDER_JOINTS = tuple(f"{sd}_{j}" for sd in ("l", "r") for j in ("hip", "knee", "ankle", "heel", "big_toe"))
#: a leg at the left/right image border is masked alone, not its frame (mask_unusable);
#: False: the whole frame is dropped instead
EDGE_ONE_LEG = True
#: leg joints swapped together when the left/right identity of the legs flips
LEG_JOINTS = ("knee", "ankle", "heel", "big_toe")


@dataclass
class PrepConfig:
    """Preprocessing settings.

    Attributes:
        min_score: joints with a lower score are treated as missing.
        max_gap_s: gaps up to this long (s) are linearly interpolated; longer ones split
            the trajectory (no event is searched across them).
        cutoff_hz: low-pass cutoff (Hz), see the module docstring.
        filter_order: Butterworth order per pass of the zero-phase filter.
        border_px, border_frac: a frame whose keypoints come closer to the left/right image
            border (when the image width is known) than ``max(border_px, border_frac x leg
            length)`` is dropped: the body is partly outside. Pose models may place the
            joints of a foot that is beyond the border inside the image (by up to a foot
            length); a margin of 0.3 leg lengths guards against that but also drops the
            first and last contact of many real passes, so the default is 0.1.
        min_pass_s: shorter walking segments are not passes.
        turn_speed_frac: frames whose smoothed pelvis speed is below this fraction of the
            clip's typical walking speed are turn-around/standing frames (dropped).
        fix_swaps: correct left/right leg identity swaps by continuity.
        spike_frac: a leg keypoint farther than this fraction of the leg length from the
            running median (``spike_window`` frames) of its pelvis-relative trajectory is a
            glitch of the pose model; it is dropped and interpolated. 0 disables.
        spike_window_s: duration (s) of that running median (rounded to an odd number
            of frames, at least 3; 0.17 s = 5 frames at 30 fps).
        min_run_s: a run of usable frames shorter than this (s, by the frame times),
            farther from the runs before and after it than the walker can move, is
            dropped (:func:`drop_islands`): a pose model's false detection on a frame or
            two (another person, a poster) would otherwise be bridged to the walker by the
            gap interpolation as a jump of hundreds of px. 0 disables.
    """

    min_score: float = 0.3
    max_gap_s: float = 0.25
    cutoff_hz: float = 6.0
    filter_order: int = 4
    border_px: float = 5.0
    border_frac: float = 0.1
    min_pass_s: float = 0.6
    turn_speed_frac: float = 0.35
    fix_swaps: bool = True
    spike_frac: float = 0.15
    spike_window_s: float = 0.17
    min_run_s: float = 0.1


@dataclass
class Pass:
    """One straight walk across the image: frames ``start..stop-1`` (positions in the series).

    ``direction`` is +1 when walking towards +x (left to right in the image), -1 otherwise.
    """

    index: int
    start: int
    stop: int
    direction: int

    @property
    def label(self) -> str:
        return "left-to-right" if self.direction > 0 else "right-to-left"


@dataclass
class Prepared:
    """Clean trajectories of one clip.

    Attributes:
        series: the cleaned, filtered :class:`PoseSeries` (NaN outside usable frames).
        raw: the input series after masking (before interpolation/filtering), for plots.
        fps: frames per second.
        pelvis: ``(T, 2)`` px, mid-hip (or Halpe ``hip``).
        passes: detected passes.
        foot_points: side -> {"hs": (T,2), "to": (T,2), "ankle": (T,2)} px: the heel (or
            ankle) used for heel strike, the toe (or ankle) used for toe-off.
        n_swaps_fixed: frames whose leg labels were swapped back.
        warnings: human-readable notes about the data.
        t: ``(T,)`` float64 s, time of each frame of ``series`` (the clip's frame
            timestamps when known, else ``frames / fps``; see ``time_source``).
        time_source: ``"timestamps"`` or ``"fps"`` (:attr:`PoseSeries.time_source`).
        labelled: the masked series before glitch removal and the left/right swap
            correction (the pose model's own keypoints and leg labels): the label-free
            event signals are built from it (a swap is not a glitch there) and the swap
            rate is measured on it.
        diagnostics: per-clip numbers for the quality record, filled by
            :func:`prepare` (``pose_coverage``: per pass, share of its frames with both
            feet and the pelvis usable) and by :func:`gaitprep.gait.events.zeni_events`
            (``leg_swap_rate``, ``rejected_events``...; see there).
        cfg: the :class:`PrepConfig` used.
        envelopes: pass index -> the label-free signals of
            :func:`gaitprep.gait.events.envelope_signals` (filled by
            :func:`gaitprep.gait.events.pass_envelope`, so that the event detector and the
            quality record compute them once).
    """

    series: PoseSeries
    raw: PoseSeries
    fps: float
    pelvis: np.ndarray
    passes: list[Pass]
    foot_points: dict
    used: dict
    n_swaps_fixed: int = 0
    warnings: list[str] = field(default_factory=list)
    t: Optional[np.ndarray] = None
    time_source: Optional[str] = None
    labelled: Optional[PoseSeries] = None
    diagnostics: dict = field(default_factory=dict)
    cfg: Optional[PrepConfig] = None
    envelopes: dict = field(default_factory=dict, repr=False)


def mask_unusable(s: PoseSeries, cfg: PrepConfig) -> tuple[PoseSeries, np.ndarray]:
    """NaN out low-score joints and whole frames that cannot be used.

    A frame is usable when both hips (or Halpe ``hip``) and both ankles are present with
    ``score >= min_score`` and, when the image width is known, no hip and no joint of a
    leg lies within the border margin (see :class:`PrepConfig`) of the left/right border
    (legs and hips only, :data:`BORDER_JOINTS`; a swinging hand may leave the image).
    With :data:`EDGE_ONE_LEG` (default) a leg whose knee, ankle or heel lies within the
    margin (placed there by the pose model whatever its score: a model puts an unseen foot
    at the image edge) is masked on its own, and the frame stays usable when the other
    leg's ankle is seen; a toe alone within the margin (the foot reaching the edge of the
    view, its heel a foot length inside) masks only the toes, so that the heel strike of a
    foot landing at the border is still read from its heel; likewise a heel or ankle
    within the margin with the knee and toes inside (a foot coming into view toe first)
    masks the leg but keeps the toes, so that its toe-off is read from the toe:
    a walker coming into or leaving the view keeps the first and last contacts of the
    leg in view (the events there come from that leg's own signal, ``source:
    "single-foot"``). A leg missing for another reason (occluded, low score) still
    makes the frame unusable.

    The masked copy's ``extra["border_side"]`` maps each leg joint to a ``(T,)`` int8
    array: +1 / -1 where this rule masked it and its own position lies beyond the margin
    of the right / left border (farther that way than any point seen), else 0.

    Returns:
        ``(masked copy, usable)`` with ``usable`` a ``(T,)`` bool array.
    """
    s = s.copy()
    raw_x = {k: s.xy[k][:, 0].copy() for k in s.xy}  # positions whatever their score
    for k in s.xy:
        low = s.score[k] < cfg.min_score
        s.xy[k][low] = np.nan
    ok_hips = (np.isfinite(s.xy["l_hip"][:, 0]) & np.isfinite(s.xy["r_hip"][:, 0])) | np.isfinite(s.xy["hip"][:, 0])
    ok_ankles = np.isfinite(s.xy["l_ankle"][:, 0]) & np.isfinite(s.xy["r_ankle"][:, 0])
    usable = ok_hips & ok_ankles
    if s.width:
        leg = leg_length_px(s)
        margin = max(cfg.border_px, cfg.border_frac * leg) if np.isfinite(leg) else cfg.border_px

        def near(keys, xs=None):
            """(T,) bool: a joint of ``keys`` within the margin of the left/right border;
            positions from ``xs`` (joint -> (T,) x), else the score-masked ones."""
            x = np.stack([(xs[k] if xs is not None else s.xy[k][:, 0]) for k in keys if k in s.xy], axis=1)
            with np.errstate(invalid="ignore"):
                return ((x < margin) | (x > s.width - 1 - margin)).any(axis=1)

        if EDGE_ONE_LEG:
            # a leg at the image border (placed there by the pose model whatever its score:
            # a model puts an unseen foot at the edge) is dropped on its own, so a walker
            # coming into or leaving the view keeps the frames where the other leg is seen
            hips_near = near([k for k in BORDER_JOINTS if k.endswith("_hip")])
            at_border = {}
            # which border each point masked here lies at by its own position (+1 right, -1
            # left, 0 inside the margin: masked with its leg): a point beyond the margin is
            # farther that way than any point seen, which the label-free signals use
            # (gaitprep.gait.events.envelope_signals)
            side = {}
            for sd in ("l", "r"):
                # the toe alone at the border (a foot reaching the edge of the view, its heel a
                # foot length inside) drops the toe, not the leg: the heel strike is read from
                # the heel (a foot beyond the border puts its heel at the border too)
                toes = [f"{sd}_{j}" for j in ("big_toe", "small_toe") if f"{sd}_{j}" in s.xy]
                heel = s.has(f"{sd}_heel")  # (without heels the toe keeps masking the leg)
                keys = [f"{sd}_{j}" for j in ("knee", "ankle", "heel") if f"{sd}_{j}" in s.xy] + ([] if heel else [k for k in toes if k.endswith("big_toe")])
                at_border[sd] = near(keys, raw_x)  # (the score-masked positions are a subset)
                toe_near = near(toes, raw_x) if toes and heel else np.zeros(s.n, bool)
                # and the other way round: a heel or ankle at the border with the knee and the
                # toes inside (a foot coming into view toe first, its heel still beyond the
                # entry border) keeps its toes, so that its toe-off is read from the toe
                knee = [f"{sd}_knee"] if f"{sd}_knee" in s.xy else []
                keep_toes = at_border[sd] & ~toe_near & ~near(knee, raw_x) if toes and heel and knee else np.zeros(s.n, bool)
                for k in [f"{sd}_{j}" for j in LEG_JOINTS + ("small_toe",)]:
                    if k in s.xy:
                        gone = at_border[sd] & ~keep_toes if k in toes else at_border[sd]
                        if k in toes:
                            gone = gone | toe_near
                        s.xy[k][gone] = np.nan
                        with np.errstate(invalid="ignore"):
                            where = np.where(raw_x[k] > s.width - 1 - margin, 1, np.where(raw_x[k] < margin, -1, 0))
                        side[k] = np.where(gone, where, 0).astype(np.int8)
            s.extra["border_side"] = side
            la, ra = np.isfinite(s.xy["l_ankle"][:, 0]), np.isfinite(s.xy["r_ankle"][:, 0])
            one_leg = (la & at_border["r"]) | (ra & at_border["l"])
            usable = ok_hips & ((la & ra) | one_leg) & ~hips_near
        else:
            usable &= ~near(BORDER_JOINTS)
    for k in s.xy:
        s.xy[k][~usable] = np.nan
    return s, usable


#: the fastest a body moves between two runs of detections, in leg lengths per second
#: (running at ~3.5 m/s with a ~0.9 m leg); an island farther than that from both
#: neighbouring runs cannot be the same person
ISLAND_MAX_SPEED_LEG_PER_S = 4.0


def drop_islands(usable: np.ndarray, t: np.ndarray, x: np.ndarray, leg: float, min_run_s: float) -> list[tuple[int, int]]:
    """Set to False, in place, the runs of ``usable`` (``(T,)`` bool) that last less than
    ``min_run_s`` seconds and lie out of reach of both neighbouring runs: a pose model's
    false detection on a frame or two (another person, a poster), which the gap
    interpolation would otherwise bridge to the walker as a jump of hundreds of px.

    Args:
        usable: ``(T,)`` bool, modified in place.
        t: ``(T,)`` frame times, s (a run of n frames lasts ``t[last] - t[first]`` plus
            one median frame interval).
        x: ``(T,)`` px, horizontal body position (mean x of the hips and legs).
        leg: leg length, px (NaN: every short run counts as out of reach).
        min_run_s: 0 disables.

    A short run is kept when its nearest sample is within ``leg x (1 +``
    :data:`ISLAND_MAX_SPEED_LEG_PER_S` ``x gap)`` px of the nearest sample of the run before
    or after it (gap = the time between them, s): the walker reappearing for a frame at the
    image edge is the walker. A clip that is one run keeps it (later stages refuse it
    when too short). Returns the dropped runs ``[(start, stop), ...]`` (positions, stop
    exclusive).
    """
    if min_run_s <= 0 or len(usable) < 2:
        return []
    t = np.asarray(t, float)
    x = np.asarray(x, float)
    dt = float(np.median(np.diff(t)))
    rr = runs(usable)
    if len(rr) < 2:
        return []
    out = []
    for i, (a, b) in enumerate(rr):
        if float(t[b - 1] - t[a]) + dt >= min_run_s - 1e-9:
            continue
        # (its first sample, the run before's last) and (its last, the run after's first)
        ends = ([(a, rr[i - 1][1] - 1)] if i > 0 else []) + ([(b - 1, rr[i + 1][0])] if i + 1 < len(rr) else [])
        reach = np.isfinite(leg) and any(
            abs(x[h] - x[o]) <= leg * (1.0 + ISLAND_MAX_SPEED_LEG_PER_S * abs(float(t[o] - t[h]))) for h, o in ends
        )
        if not reach:
            out.append((a, b))
    for a, b in out:
        usable[a:b] = False
    return out


def leg_length_px(s: PoseSeries) -> float:
    """Median hip-to-ankle distance (px) of the left leg, NaN when never seen."""
    d = np.linalg.norm(s.xy["l_hip"] - s.xy["l_ankle"], axis=1)
    d = d[np.isfinite(d)]
    return float(np.median(d)) if len(d) else float("nan")


def _leg_stack(s: PoseSeries, side: str) -> np.ndarray:
    return np.stack([s.xy[f"{side}_{j}"] for j in LEG_JOINTS], axis=1)  # (T, J, 2)


def fix_leg_swaps(s: PoseSeries, max_gap: int, pelvis: Optional[np.ndarray] = None) -> tuple[PoseSeries, int]:
    """Swap the left/right leg labels back where they flip between frames.

    In side view the two legs overlap and 2D pose models often exchange their labels,
    for a frame or for a stretch. Each frame gets a hidden state, labels kept (0) or
    swapped (1); a Viterbi pass over consecutive usable frames picks the state sequence
    whose leg trajectories (knee, ankle, heel, toe; relative to the pelvis, which removes
    walking and camera pan) best follow a constant-velocity prediction from the two
    previous frames (a second-order chain, so legs that cross in mid-swing are told
    apart from labels that jump). Cost per frame: mean joint distance to the prediction
    in units of leg length, plus 0.02 for the swapped state so that the model's labels
    win ties. Runs of usable frames are solved separately (no continuity across gaps
    longer than ``max_gap``, where the labels are kept as given; shorter gaps are bridged
    by linear interpolation for the costs).

    Returns:
        ``(corrected copy, number of frames swapped)``.
    """
    s = s.copy()
    L, R = _leg_stack(s, "l"), _leg_stack(s, "r")
    if pelvis is None:
        pelvis = 0.5 * (s.xy["l_hip"] + s.xy["r_hip"])
    leg_len = leg_length_px(s)
    if not np.isfinite(leg_len) or leg_len <= 0:
        return s, 0
    Lr = (L - pelvis[:, None, :]) / leg_len
    Rr = (R - pelvis[:, None, :]) / leg_len
    # bridge short gaps (dropped glitches) so that continuity carries across them
    for X in (Lr, Rr):
        for j in range(X.shape[1]):
            for c in range(2):
                X[:, j, c] = interpolate_gaps(X[:, j, c], max_gap)
    pelvis = np.stack([interpolate_gaps(pelvis[:, c], max_gap) for c in range(2)], axis=1)
    valid = np.isfinite(Lr[:, 1, 0]) & np.isfinite(Rr[:, 1, 0]) & np.isfinite(pelvis[:, 0])
    # fill joints missing inside a valid frame from the ankle so costs stay finite
    for X in (Lr, Rr):
        miss = ~np.isfinite(X[..., 0])
        X[miss] = np.broadcast_to(X[:, 1:2, :], X.shape)[miss]
    swapped = np.zeros(s.n, bool)
    penalty = 0.02

    def lab(t, st):  # (2, J, 2): legs of frame t under swap state st
        return np.stack([Rr[t], Lr[t]]) if st else np.stack([Lr[t], Rr[t]])

    def dist(a, b):
        return float(np.linalg.norm(a - b, axis=-1).mean())

    for a, b in runs(valid):
        n = b - a
        if n < 3:
            continue
        # states: (prev, cur) in 0..3 -> prev = k >> 1, cur = k & 1
        INF = 1e18
        cost = np.full(4, INF)
        # frame a+1 with predecessor a: zero-order cost
        for k in range(4):
            p, c = k >> 1, k & 1
            cost[k] = penalty * (p + c) + dist(lab(a + 1, c), lab(a, p))
        back = np.zeros((n, 4), int)
        for i in range(2, n):
            t = a + i
            new = np.full(4, INF)
            for k in range(4):
                p, c = k >> 1, k & 1
                for pp in (0, 1):
                    kp = (pp << 1) | p
                    pred = 2 * lab(t - 1, p) - lab(t - 2, pp)
                    v = cost[kp] + dist(lab(t, c), pred) + penalty * c
                    if v < new[k]:
                        new[k], back[i, k] = v, kp
            cost = new
        k = int(np.argmin(cost))
        states = np.zeros(n, int)
        for i in range(n - 1, 0, -1):
            states[i] = k & 1
            states[i - 1] = k >> 1
            k = back[i, k] if i >= 2 else k
        swapped[a:b] = states.astype(bool)
    for t in np.flatnonzero(swapped):
        L[t], R[t] = R[t].copy(), L[t].copy()
    swapped &= np.isfinite(L[:, 1, 0])  # count only frames that had data
    for i, j in enumerate(LEG_JOINTS):
        s.xy[f"l_{j}"] = L[:, i]
        s.xy[f"r_{j}"] = R[:, i]
    return s, int(swapped.sum())


def remove_spikes(s: PoseSeries, frac: float, window: int = 5, passes: int = 2) -> tuple[PoseSeries, int]:
    """Drop leg keypoints that jump away from their neighbours (see ``PrepConfig.spike_frac``).

    Works on positions relative to the pelvis (walking and camera pan removed): a sample
    whose distance to the running median of ``window`` frames exceeds ``frac`` x the
    median hip-ankle distance becomes NaN. Repeated ``passes`` times, so that a glitch
    lasting several frames, which pulls the first median, is found once its worst
    samples are gone. Returns ``(copy, number of samples dropped)``.
    """
    import pandas as pd

    s = s.copy()
    pelvis = 0.5 * (s.xy["l_hip"] + s.xy["r_hip"])
    leg_len = leg_length_px(s)
    if not (frac > 0 and np.isfinite(leg_len)):
        return s, 0
    n = 0
    for _ in range(passes):
        for side in SIDES:
            for j in LEG_JOINTS:
                k = f"{side}_{j}"
                rel = pd.DataFrame(s.xy[k] - pelvis)
                med = rel.rolling(window, center=True, min_periods=3).median().to_numpy()
                d = np.linalg.norm(rel.to_numpy() - med, axis=1)
                bad = np.isfinite(d) & (d > frac * leg_len)
                s.xy[k][bad] = np.nan
                n += int(bad.sum())
    return s, n


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` of the True runs of a 1-D bool array (stop exclusive)."""
    m = np.concatenate([[False], np.asarray(mask, bool), [False]])
    d = np.diff(m.astype(np.int8))
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)))


def interpolate_gaps(x: np.ndarray, max_gap: int) -> np.ndarray:
    """Linearly fill interior NaN runs of at most ``max_gap`` samples of a 1-D array."""
    x = np.asarray(x, float).copy()
    fin = np.isfinite(x)
    if fin.sum() < 2:
        return x
    idx = np.arange(len(x))
    for a, b in runs(~fin):
        if a == 0 or b == len(x) or b - a > max_gap:
            continue
        x[a:b] = np.interp(idx[a:b], idx[fin], x[fin])
    return x


def lowpass(x: np.ndarray, fps: float, cutoff_hz: float = 6.0, order: int = 4) -> np.ndarray:
    """Zero-phase Butterworth low-pass of each finite run of a 1-D array.

    Runs too short for :func:`scipy.signal.sosfiltfilt`'s padding are left unfiltered.
    A cutoff at or above Nyquist leaves the signal unchanged.
    """
    x = np.asarray(x, float).copy()
    if cutoff_hz >= 0.5 * fps * 0.99:
        return x
    sos = butter(order, cutoff_hz, btype="low", fs=fps, output="sos")
    padlen = 3 * (2 * len(sos) + 1)
    for a, b in runs(np.isfinite(x)):
        if b - a > padlen:
            x[a:b] = sosfiltfilt(sos, x[a:b], padlen=padlen)
    return x


def _smooth_ma(x: np.ndarray, n: int) -> np.ndarray:
    """Centered moving average ignoring NaN (NaN where the input is NaN)."""
    fin = np.isfinite(x)
    # np.convolve(mode="same") returns max(len(x), len(k)) values: never let the kernel outgrow x
    k = np.ones(max(1, min(n, len(x))))
    num = np.convolve(np.where(fin, x, 0.0), k, mode="same")
    den = np.convolve(fin.astype(float), k, mode="same")
    out = num / np.maximum(den, 1e-9)
    out[~fin] = np.nan
    return out


def local_velocity(x: np.ndarray, t: np.ndarray, half_s: float) -> np.ndarray:
    """``(T,)`` px/s: slope of the least-squares line through the finite samples of ``x``
    within ``half_s`` seconds of each sample (times ``t``, s), inside the same finite run.

    A local linear fit (a Savitzky-Golay slope on the clip's own, possibly irregular, frame
    times) instead of a moving average: at the start and end of a run its one-sided window
    still measures the slope (a moving average flattens the ends and a run shorter than the
    window altogether). NaN where ``x`` is NaN or a window holds fewer than 3 samples or
    spans less than ``half_s / 2``.
    """
    x = np.asarray(x, float)
    t = np.asarray(t, float)
    v = np.full(len(x), np.nan)
    for a, b in runs(np.isfinite(x)):
        tt, xx = t[a:b], x[a:b]
        lo = np.searchsorted(tt, tt - half_s - 1e-9, side="left")
        hi = np.searchsorted(tt, tt + half_s + 1e-9, side="right")
        c1 = np.concatenate([[0.0], np.cumsum(tt)])
        c2 = np.concatenate([[0.0], np.cumsum(tt * tt)])
        cx = np.concatenate([[0.0], np.cumsum(xx)])
        cxt = np.concatenate([[0.0], np.cumsum(xx * tt)])
        n = (hi - lo).astype(float)
        st, stt, sx, sxt = c1[hi] - c1[lo], c2[hi] - c2[lo], cx[hi] - cx[lo], cxt[hi] - cxt[lo]
        den = n * stt - st * st
        span = tt[hi - 1] - tt[lo]
        ok = (n >= 3) & (span >= 0.5 * half_s - 1e-9) & (den > 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            slope = (n * sxt - st * sx) / den
        v[a:b] = np.where(ok, slope, np.nan)
    return v


def find_passes(pelvis_x: np.ndarray, fps: float, cfg: PrepConfig, t: Optional[np.ndarray] = None) -> tuple[list[Pass], list[str]]:
    """Split a clip into passes of steady walking in one direction.

    The pelvis velocity is the slope of a local straight-line fit over +-0.5 s (one stride:
    :func:`local_velocity`, on the frame times ``t``, s; ``frames / fps`` when None), which
    averages out the within-stride speed oscillation and stays unbiased at the first and last
    frames of the data; frames where its magnitude is below ``turn_speed_frac`` of the
    clip's typical walking speed (the 80th percentile) are turn-around or standing frames.
    Runs of frames with one sign of velocity lasting at least ``min_pass_s`` (by the frame
    times) are passes. A run also ends at a gap in the data.

    Returns:
        ``(passes, warnings)``.
    """
    warnings: list[str] = []
    x = np.asarray(pelvis_x, float)
    if t is None:
        t = np.arange(len(x)) / float(fps)
    t = np.asarray(t, float)
    v = local_velocity(x, t, 0.5)
    fin = np.isfinite(v)
    if fin.sum() < 3:
        return [], ["no usable frames with the whole body in view"]
    typical = np.nanpercentile(np.abs(v[fin]), 80)
    if not typical > 0:
        return [], ["the person does not move horizontally"]
    thr = cfg.turn_speed_frac * typical
    sign = np.zeros(len(v), int)
    sign[fin & (v > thr)] = 1
    sign[fin & (v < -thr)] = -1
    passes: list[Pass] = []
    dt = float(np.median(np.diff(t))) if len(t) > 1 else 1.0 / fps
    for d in (1, -1):
        for a, b in runs(sign == d):
            dur = float(t[b - 1] - t[a]) + dt
            if dur >= cfg.min_pass_s - 1e-9:
                passes.append(Pass(0, int(a), int(b), d))
            elif b - a >= 3:
                warnings.append(f"walking segment of {dur:.2f} s at frames {a}..{b - 1} is too short for a pass; ignored")
    passes.sort(key=lambda p: p.start)
    for i, p in enumerate(passes):
        p.index = i
    return passes, warnings


#: the front-most heel and the rear-most toe never move backward over the ground (a foot
#: stands or swings forward; a label swap exchanges the feet, not the extremes): a frame
#: whose front-most heel or rear-most toe is behind that of a frame at most
#: BACKWARD_WINDOW_S earlier by more than this fraction of the leg length is a pose-model
#: failure (both legs drawn on one, a foot lost while the legs cross) and its legs are dropped
BACKWARD_TOL_FRAC = 0.15
BACKWARD_WINDOW_S = 0.4


def backward_samples(y: np.ndarray, t: np.ndarray, tol: float, window_s: float = BACKWARD_WINDOW_S) -> np.ndarray:
    """Samples to drop from signals that must not decrease, until none decreases by more
    than ``tol`` between two samples at most ``window_s`` apart.

    Args:
        y: ``(n,)`` or ``(k, n)`` float, px along the walking direction (forward positive)
            in a frame in which a standing foot is still (the ground); NaN where not
            measured. With ``k`` signals a sample (a frame) is dropped from all of them;
            with two, ``y[0]`` is the front-most heel and ``y[1]`` the rear-most toe.
        t: ``(n,)`` s, increasing.
        tol: px, the decrease allowed (keypoint noise).
        window_s: s, how far apart two samples are compared.

    Returns:
        ``(n,)`` bool, True at the samples to drop, chosen greedily until no pair is left:
        the sample in the most pairs (over all signals) first; of samples in as many, with
        two signals, first a frame that draws the feet together (the front heel behind
        earlier samples and the rear toe ahead of later ones: both legs drawn on one), then
        the one farther from the median of its neighbours. A backward run is outvoted by
        the steady samples before it, a single forward spike by all the samples it is
        ahead of.
    """
    ys, t = np.atleast_2d(np.asarray(y, float)), np.asarray(t, float)
    n = len(t)
    bad = np.zeros(n, bool)
    pa, pb, ps = [], [], []
    for si, yy in enumerate(ys):
        idx = np.flatnonzero(np.isfinite(yy))
        if len(idx) < 2:
            continue
        ty, v = t[idx], yy[idx]
        for k in range(1, len(idx)):
            near = np.flatnonzero(ty[k:] - ty[:-k] <= window_s)
            if not len(near):
                break
            viol = near[v[near] - v[near + k] > tol]
            pa.append(idx[viol])
            pb.append(idx[viol + k])
            ps.append(np.full(len(viol), si))
    if not pa:
        return bad
    a, b, sig = np.concatenate(pa), np.concatenate(pb), np.concatenate(ps)
    # ties go to the sample farther from the median of its neighbours (the outlier of a pair)
    import pandas as pd

    dev = np.zeros(n)
    for yy in ys:
        med = pd.Series(yy).rolling(5, center=True, min_periods=2).median().to_numpy()
        dev += np.nan_to_num(np.abs(yy - med))
    dev = 0.25 * dev / (dev.max() + 1.0)
    while len(a):
        score = np.bincount(a, minlength=n) + np.bincount(b, minlength=n) + dev
        if len(ys) == 2:
            # of frames in as many pairs, first those that draw the feet together: the front
            # heel behind earlier samples and the rear toe ahead of later ones (both legs
            # drawn on one)
            together = (np.bincount(b[sig == 0], minlength=n) > 0) & (np.bincount(a[sig == 1], minlength=n) > 0)
            score = score + 0.5 * together
        worst = int(np.argmax(score))
        bad[worst] = True
        keep = (a != worst) & (b != worst)
        a, b, sig = a[keep], b[keep], sig[keep]
    return bad


def backward_frames(s: PoseSeries, pelvis_x: np.ndarray, p: Pass, t: np.ndarray, tol: float) -> np.ndarray:
    """``(stop - start,)`` bool over pass ``p``: frames whose feet move backward over the
    ground (:func:`backward_samples`), label-free, for a still camera (image x is ground x).

    Per frame, along the walking direction (px, forward positive): the front-most heel
    (ankle where there is no heel keypoint) and the rear-most big toe of the two legs; where
    one leg is masked (at the image border, :func:`mask_unusable`), the seen foot is the
    front-most one while the walker (``pelvis_x``, ``(T,)`` px) is in the rear half of the
    image (coming in) and the rear-most one in the front half (leaving).
    """
    sl = slice(p.start, p.stop)
    tt = t[sl]

    hl, hr = (p.direction * foot_x(s, sd, "hs")[sl] for sd in SIDES)
    tl, tr = (p.direction * foot_x(s, sd, "to")[sl] for sd in SIDES)
    one = np.isfinite(hl) != np.isfinite(hr)
    if s.width:
        coming = p.direction * (pelvis_x[sl] - 0.5 * s.width) < 0
    else:
        coming = np.zeros(len(tt), bool)
    lead = np.where(one & ~coming, np.nan, np.fmax(hl, hr))
    trail = np.where(one & coming, np.nan, np.fmin(tl, tr))
    if len(tt) < 3 or not np.isfinite(tol):
        return np.zeros(len(tt), bool)
    return backward_samples(np.stack([lead, trail]), tt, tol)


#: frame intervals within this fraction of their median count as one frame rate: the
#: decoder's own tolerance (:data:`gaitprep.video.UNIFORM_TOLERANCE`, of
#: :func:`gaitprep.video.frame_timing`'s ``uniform``), so that a container's timestamp
#: rounding (a 29.97 fps clip in a 1 ms timebase has 33 and 34 ms intervals; OpenCV reports
#: some 29.97 fps MP4s as 33.3 ms with a 35.0 ms interval every ~56 frames) is not a
#: variable frame rate
VFR_TOLERANCE = UNIFORM_TOLERANCE


def uniform_timing(t: np.ndarray) -> bool:
    """Whether frame times ``t`` (s, increasing, ``(T,)``) have one frame rate: every
    interval within :data:`VFR_TOLERANCE` of the median interval (True for fewer than 3)."""
    t = np.asarray(t, float)
    if len(t) < 3:
        return True
    dt = np.diff(t)
    med = float(np.median(dt))
    return bool(med > 0 and np.all(np.abs(dt - med) <= VFR_TOLERANCE * med))


def odd_frames(seconds: float, fps: float, minimum: int = 3) -> int:
    """An odd number of frames (>= ``minimum``) closest to ``seconds`` at ``fps``."""
    n = max(minimum, int(round(seconds * fps)))
    return n if n % 2 else n + 1


def prepare(s: PoseSeries, fps: float, cfg: Optional[PrepConfig] = None) -> Prepared:
    """Run the whole cleaning chain on one clip's pose (see the module docstring).

    ``fps`` (> 0) is the clip's nominal rate, used for the filter and for thresholds
    given in seconds; frame times come from ``s.t`` (the clip's timestamps, see
    :func:`gaitprep.gait.io.attach_times`) or, when it is None, ``frames / fps`` (with
    a warning). A variable frame rate (an interval more than :data:`VFR_TOLERANCE` from
    the median, :func:`uniform_timing`) is noted in the warnings; the event code then
    works on a uniform time grid.
    """
    cfg = cfg or PrepConfig()
    warnings: list[str] = []
    if s.t is None:
        from .io import attach_times

        s = attach_times(s.copy(), None, fps)
    if s.time_source != "timestamps":
        warnings.append(f"no frame timestamps in the pose provenance: frames are timed as frame / {fps:g} fps")
    elif not uniform_timing(s.t):
        dt = np.diff(s.t)
        warnings.append(
            "variable frame rate: frame intervals %.1f..%.1f ms (median %.1f ms); events are timed from the timestamps"
            % (1000 * dt.min(), 1000 * dt.max(), 1000 * np.median(dt))
        )
    masked, usable = mask_unusable(s, cfg)
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN frames
        body_x = np.nanmean(np.stack([masked.xy[k][:, 0] for k in BORDER_JOINTS if k in masked.xy], axis=1), axis=1)
    islands = drop_islands(usable, s.t, body_x, leg_length_px(masked), cfg.min_run_s)
    if islands:
        for k in masked.xy:
            masked.xy[k][~usable] = np.nan
        warnings.append(
            "%d isolated detection(s) shorter than %.2f s and out of reach of the walker dropped (not bridged to the walker): frames %s"
            % (len(islands), cfg.min_run_s, ", ".join(f"{s.frames[a]}..{s.frames[b - 1]}" for a, b in islands[:5]))
        )
    max_gap = max(1, int(round(cfg.max_gap_s * fps)))
    labelled = masked.copy()
    masked, n_spk = remove_spikes(masked, cfg.spike_frac, odd_frames(cfg.spike_window_s, fps))
    if n_spk:
        warnings.append(f"{n_spk} leg keypoint sample(s) dropped as glitches and interpolated")
    n_sw = 0
    if cfg.fix_swaps:
        masked, n_sw = fix_leg_swaps(masked, max_gap)
        if n_sw:
            warnings.append(f"left/right leg labels swapped back in {n_sw} frame(s)")
    clean = masked.copy()
    smooth_into(clean, masked, list(clean.xy), fps, cfg)
    long_gaps = [(a, b) for a, b in runs(~usable) if b - a > max_gap and a > 0 and b < len(usable)]
    if long_gaps:
        warnings.append(
            "pose gaps longer than %.2f s at frames %s split the trajectories"
            % (cfg.max_gap_s, ", ".join(f"{s.frames[a]}..{s.frames[b - 1]}" for a, b in long_gaps[:5]))
        )
    if np.isfinite(clean.xy["l_hip"][:, 0]).any() and np.isfinite(clean.xy["r_hip"][:, 0]).any():
        pelvis = 0.5 * (clean.xy["l_hip"] + clean.xy["r_hip"])
        if clean.has("hip"):
            pelvis = np.where(np.isfinite(pelvis), pelvis, clean.xy["hip"])
    else:
        pelvis = clean.xy["hip"].copy()
    # frames usable only where the feet are there too
    feet_ok = np.isfinite(clean.xy["l_ankle"][:, 0]) & np.isfinite(clean.xy["r_ankle"][:, 0])
    if EDGE_ONE_LEG:
        feet_ok |= usable & (np.isfinite(clean.xy["l_ankle"][:, 0]) | np.isfinite(clean.xy["r_ankle"][:, 0]))
    pelvis[~feet_ok] = np.nan
    passes, w = find_passes(pelvis[:, 0], fps, cfg, s.t)
    warnings += w
    back = np.zeros(len(usable), bool)
    leg = leg_length_px(masked)
    for p in passes:
        back[p.start : p.stop] = backward_frames(labelled, pelvis[:, 0], p, s.t, BACKWARD_TOL_FRAC * leg)
    if back.any():
        legs = [k for k in masked.xy if k[2:] in LEG_JOINTS + ("small_toe",)]
        for k in legs:
            masked.xy[k][back] = np.nan
            labelled.xy[k][back] = np.nan
        smooth_into(clean, masked, legs, fps, cfg)
        warnings.append(
            "%d frame(s) whose front or rear foot moves backward over the ground (a pose-model failure) have their legs"
            " dropped: frames %s" % (back.sum(), ", ".join(f"{s.frames[a]}..{s.frames[b - 1]}" for a, b in runs(back)[:5]))
        )
    foot_points, used = _foot_points(clean)
    have = feet_ok & np.isfinite(pelvis[:, 0]) & usable
    diagnostics = {"pose_coverage": [float(np.mean(have[p.start : p.stop])) for p in passes], "time_source": s.time_source}
    # the dropped frames are bridged by the gap interpolation like any glitch; they are not
    # pose gaps for the event checks (the neighbouring contacts were seen)
    diagnostics["backward_frames"] = back
    return Prepared(
        clean, masked, float(fps), pelvis, passes, foot_points, used, n_sw, warnings,
        s.t.copy(), s.time_source, labelled, diagnostics, cfg,
    )  # fmt: skip


def smooth_into(dst: PoseSeries, src: PoseSeries, keys, fps: float, cfg: PrepConfig) -> None:
    """``dst.xy[k]`` = ``src.xy[k]`` (px, ``(T, 2)``) with gaps up to ``cfg.max_gap_s``
    linearly interpolated and low-passed (:func:`lowpass`, zero phase), for each ``k`` of
    ``keys``, in place: the trajectories of :class:`Prepared.series`."""
    max_gap = max(1, int(round(cfg.max_gap_s * fps)))
    for k in keys:
        for c in range(2):
            dst.xy[k][:, c] = lowpass(interpolate_gaps(src.xy[k][:, c], max_gap), fps, cfg.cutoff_hz, cfg.filter_order)


def foot_x(series: PoseSeries, side: str, key: str) -> np.ndarray:
    """``(T,)`` px x of the heel (``key="hs"``) or big toe (``"to"``) of a side; the ankle
    when the pose has no such keypoint at all (COCO-17). Where the pose has heels/toes
    but not in a frame, NaN: an ankle standing in for one foot's toe would be compared
    with the other foot's toe."""
    name = f"{side}_heel" if key == "hs" else f"{side}_big_toe"
    if series.has(name):
        return series.xy[name][:, 0]
    return series.xy[f"{side}_ankle"][:, 0]


def _foot_points(clean: PoseSeries) -> tuple[dict, dict]:
    """``(foot_points, used)`` of :class:`Prepared` from the cleaned series."""
    foot_points, used = {}, {}
    for side in SIDES:
        heel_ok = clean.has(f"{side}_heel")
        toe_ok = clean.has(f"{side}_big_toe")
        ankle = clean.xy[f"{side}_ankle"]
        foot_points[side] = {
            "hs": np.where(np.isfinite(clean.xy[f"{side}_heel"]), clean.xy[f"{side}_heel"], ankle) if heel_ok else ankle,
            "to": np.where(np.isfinite(clean.xy[f"{side}_big_toe"]), clean.xy[f"{side}_big_toe"], ankle) if toe_ok else ankle,
            "ankle": ankle,
        }
        used[side] = {"hs": "heel" if heel_ok else "ankle", "to": "big_toe" if toe_ok else "ankle"}
    return foot_points, used


def relabel_legs(prep: Prepared, swap: np.ndarray) -> int:
    """Exchange the left/right leg keypoints (knee, ankle, heel, toes) in the frames where
    ``swap`` (``(T,)`` bool over the series) is True, in ``prep.raw``, and rebuild the
    filtered ``prep.series`` legs and ``prep.foot_points`` from it (same gap filling and
    filter as :func:`prepare`), in place. The event code calls this with the frames where
    the labels contradict its label-free feet, so that the parameters (contact positions,
    step lengths) read the foot the events belong to. Returns the number of frames swapped."""
    swap = np.asarray(swap, bool)
    if not swap.any():
        return 0
    names = [j for j in LEG_JOINTS + ("small_toe",) if f"l_{j}" in prep.raw.xy and f"r_{j}" in prep.raw.xy]
    for j in names:
        L, R = prep.raw.xy[f"l_{j}"], prep.raw.xy[f"r_{j}"]
        L[swap], R[swap] = R[swap].copy(), L[swap].copy()
    smooth_into(prep.series, prep.raw, [f"{sd}_{j}" for j in names for sd in SIDES], prep.fps, prep.cfg or PrepConfig())
    prep.foot_points, prep.used = _foot_points(prep.series)
    return int(swap.sum())
