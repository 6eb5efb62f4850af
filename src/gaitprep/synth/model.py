"""Kinematic model of a 2D side-view (sagittal-plane) walker with exact gait events.

The gait is driven by the feet, not by joint-angle curves, so that the stance foot cannot
slide and heel strike (HS) / toe off (TO) are exact by construction:

* Each foot is a rigid segment (heel, ankle, small toe, big toe). Its trajectory is
  prescribed in world coordinates for one gait cycle (phase ``p`` in [0, 1), 0 = its HS):

  - loading response ``0 .. P_FF``: the foot rolls about the **heel**, which stays fixed on
    the floor, from ``THETA_HS`` (toe up) to flat;
  - mid stance ``P_FF .. p_ho``: flat and fixed;
  - terminal stance ``p_ho .. p_to``: heel rise, the foot rolls about the **big toe**,
    which stays fixed, to ``-THETA_TO`` (toe down); ``p_to = 0.5 + ds`` is toe off;
  - swing ``p_to .. 1``: ankle position and foot pitch follow cubic Hermite curves whose
    end values and velocities match the stance motion at TO and at the next HS, plus a
    vertical lift, so the foot clears the floor.

* Consecutive heel strikes of opposite feet are ``step_length_cm`` apart; the pelvis moves
  at the constant speed ``v = step_length / step_time`` and is ``PELVIS_FWD`` of a step
  ahead of the midpoint between the two ankles at every HS. Its height is a soft minimum
  of the standing hip height (less ``PELVIS_DROP_CM``) and the highest level from which
  both legs reach their ankles with ``LEG_REACH`` of their length, so it vaults over the
  stance leg: lowest in double support, highest in mid single support (2.5-3 cm p-p).
* Knees come from 2-link inverse kinematics (hip -> ankle, knee in front).
* The arms swing opposite to the ipsilateral leg; the thorax counter-rotates slightly, so
  the left/right shoulders and hips separate by a few cm in the side view.

Timing (stride time ``T = 2 * 60 / cadence``, ``ds = double_support_fraction``), one foot:
HS at 0, contralateral TO at ``ds``, contralateral HS at 0.5, TO at ``0.5 + ds``.
Hence stance = ``(0.5 + ds) T``, swing = ``(0.5 - ds) T``, each double-support period
(HS of one foot -> TO of the other) = ``ds T`` (two per cycle), single support =
``(0.5 - ds) T`` (= contralateral swing).

Anthropometry follows Winter, *Biomechanics and Motor Control of Human Movement* (segment
lengths as fractions of body height).

World coordinates: ``x`` in cm along the walking direction (0 = the frame edge the walker
enters from), ``y`` in cm up from the floor. :func:`world_to_image` maps them to image px
(x right, y down), mirroring for ``right_to_left``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Optional

import numpy as np


# ---------------------------------------------------------------- model constants
P_FF = 0.08  #: foot flat (end of heel rocker), fraction of the cycle after HS
HEEL_OFF_BEFORE_TO = 0.28  #: heel off happens this fraction of the cycle before TO
THETA_HS = math.radians(18.0)  #: foot pitch at HS (toe up)
THETA_TO = math.radians(42.0)  #: foot pitch at TO (toe down)
PELVIS_DROP_CM = 0.0  #: hip height below standing height at most, cm
SOFTMIN_CM = 0.6  #: smoothing length of the pelvis-height soft minimum, cm
LEG_REACH = 0.997  #: max hip-ankle distance as a fraction of thigh + shank
SWING_LIFT = 0.02  #: extra ankle lift in mid swing, fraction of body height
PELVIS_FWD = 0.05  #: pelvis ahead of the midpoint between the ankles at HS, fraction of step length
TRUNK_LEAN = math.radians(4.0)  #: forward lean of the trunk
ARM_SWING = math.radians(18.0)  #: shoulder flexion amplitude
PELVIS_ROT = math.radians(4.0)  #: transverse pelvis rotation amplitude
THORAX_ROT = math.radians(7.0)  #: transverse thorax rotation amplitude (opposite phase)

# Segment lengths / positions as fractions of body height (Winter 2009, fig. 4.1).
THIGH = 0.245
SHANK = 0.246
FOOT = 0.152
ANKLE_H = 0.039
UPPER_ARM = 0.186
FOREARM = 0.146
HAND = 0.108
TRUNK = 0.288  # hip joint -> shoulder joint
HIP_HALF_WIDTH = 0.055
SHOULDER_HALF_WIDTH = 0.13

DIRECTIONS = ("left_to_right", "right_to_left")


@dataclass
class WalkerParams:
    """Everything that defines one synthetic walking clip.

    Attributes:
        cadence: steps per minute (supported 60..160; typical 90..130).
        step_length_cm: distance between consecutive heel strikes of opposite feet, cm
            (supported 30..100; typical 50..80).
        double_support_fraction: duration of EACH double-support period as a fraction of
            the gait cycle (two such periods per cycle; 0.02..0.2, e.g. 0.1 -> 20 % total
            double support, 60 % stance).
        direction: ``"left_to_right"`` or ``"right_to_left"`` in the image. The side of the
            body facing the camera is the right side for ``left_to_right`` and the left side
            for ``right_to_left``.
        height_cm: body height, cm.
        px_per_cm: image scale, px per cm (same in x and y; orthographic camera).
        fps: frames per second of the video.
        width, height: frame size, px.
        duration_s: clip length, s. ``None``: from ``n_steps`` if given, else the time the
            walker needs to enter, cross and fully leave the frame.
        n_steps: clip length in steps (``n_steps * 60 / cadence`` s) when ``duration_s`` is
            ``None``.
        start_x_cm: pelvis position at t = 0 in cm from the entry edge of the frame.
            ``None``: start fully outside the frame (enter, walk across, exit).
        floor_y_px: image row of the floor line; ``None``: ``0.9 * height``.
        phase0: gait phase of the near-side foot at t = 0 (0 = its HS); ``None``: drawn
            from ``seed``.
        seed: random seed for ``phase0`` and small appearance variations.
        step_asymmetry: the far foot's footprints are moved back by this fraction of
            ``step_length_cm`` (0 = symmetric; the far foot's step is ``(1 - a) x`` and the
            near foot's ``(1 + a) x`` the step length, stride and speed unchanged). Near 1
            the far foot lands beside the near one and never leads: a step-to gait.
        shirt_bgr, trousers_bgr, shoes_bgr, skin_bgr, hair_bgr: clothing/skin colours (BGR).
        background: ``"indoor"`` (wall, skirting, floor, door) or ``"plain"``.
    """

    cadence: float = 110.0
    step_length_cm: float = 65.0
    double_support_fraction: float = 0.1
    direction: str = "left_to_right"
    height_cm: float = 170.0
    px_per_cm: float = 2.0
    fps: float = 30.0
    width: int = 960
    height: int = 540
    duration_s: Optional[float] = None
    n_steps: Optional[int] = None
    start_x_cm: Optional[float] = None
    floor_y_px: Optional[float] = None
    phase0: Optional[float] = None
    seed: int = 0
    step_asymmetry: float = 0.0
    shirt_bgr: tuple = (150, 90, 40)
    trousers_bgr: tuple = (60, 50, 45)
    shoes_bgr: tuple = (40, 40, 40)
    skin_bgr: tuple = (120, 160, 215)
    hair_bgr: tuple = (30, 40, 60)
    background: str = "indoor"

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first out-of-range field."""
        checks = [
            ("cadence", 60 <= self.cadence <= 160, "60..160 steps/min"),
            ("step_length_cm", 30 <= self.step_length_cm <= 100, "30..100 cm"),
            ("double_support_fraction", 0.02 <= self.double_support_fraction <= 0.2, "0.02..0.2"),
            ("direction", self.direction in DIRECTIONS, " or ".join(DIRECTIONS)),
            ("height_cm", 80 <= self.height_cm <= 230, "80..230 cm"),
            ("px_per_cm", 0.2 <= self.px_per_cm <= 20, "0.2..20"),
            ("fps", 1 <= self.fps <= 240, "1..240"),
            ("width", int(self.width) >= 16 and int(self.width) % 2 == 0, "an even number >= 16"),
            ("height", int(self.height) >= 16 and int(self.height) % 2 == 0, "an even number >= 16"),
            ("duration_s", self.duration_s is None or self.duration_s > 0, "> 0"),
            ("n_steps", self.n_steps is None or self.n_steps > 0, "> 0"),
            ("background", self.background in ("indoor", "plain"), "indoor or plain"),
            ("step_asymmetry", 0.0 <= self.step_asymmetry < 1.0, "0 <= a < 1"),
        ]
        for name, ok, allowed in checks:
            if not ok:
                raise ValueError(f"WalkerParams.{name}={getattr(self, name)!r} out of range (allowed: {allowed})")

    def to_dict(self) -> dict:
        """JSON-serialisable dict of all fields (tuples -> lists)."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> "WalkerParams":
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError``."""
        known = set(cls.__dataclass_fields__)
        bad = set(d) - known
        if bad:
            raise ValueError(f"unknown WalkerParams fields: {sorted(bad)}")
        return cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items()})


def _rot(v: np.ndarray, a) -> np.ndarray:
    """Rotate 2D vectors ``v (..., 2)`` counter-clockwise (y up) by angle(s) ``a`` (rad)."""
    c, s = np.cos(a), np.sin(a)
    return np.stack([c * v[..., 0] - s * v[..., 1], s * v[..., 0] + c * v[..., 1]], axis=-1)


def _hermite(f0, m0, f1, m1, s, span):
    s2, s3 = s * s, s * s * s
    return (
        (2 * s3 - 3 * s2 + 1) * f0 + (s3 - 2 * s2 + s) * span * m0 + (-2 * s3 + 3 * s2) * f1 + (s3 - s2) * span * m1
    )


class Walker:
    """The gait model for one :class:`WalkerParams` (validated on construction).

    Derived timing attributes (s): ``stride_time``, ``step_time``, ``stance``, ``swing``,
    ``double_support`` (one period), ``single_support``; ``speed`` in cm/s;
    ``duration`` (s) and ``n_frames`` of the clip.
    """

    def __init__(self, params: WalkerParams):
        params.validate()
        self.p = params
        H = params.height_cm
        self.H = H
        self.thigh, self.shank = THIGH * H, SHANK * H
        self.foot_len = FOOT * H
        # Foot frame: heel contact at origin, sole along +x.
        self.foot_pts = {
            "heel": np.array([0.0, 0.0]),
            "ankle": np.array([0.22 * self.foot_len, ANKLE_H * H]),
            "big_toe": np.array([self.foot_len, 0.0]),
            "small_toe": np.array([0.80 * self.foot_len, 0.004 * H]),
        }
        ds = params.double_support_fraction
        self.ds = ds
        self.p_to = 0.5 + ds
        self.p_ho = self.p_to - HEEL_OFF_BEFORE_TO
        self.step_time = 60.0 / params.cadence
        self.stride_time = 2 * self.step_time
        self.speed = params.step_length_cm / self.step_time  # cm/s
        self.stance = self.p_to * self.stride_time
        self.swing = (1 - self.p_to) * self.stride_time
        self.double_support = ds * self.stride_time
        self.single_support = (0.5 - ds) * self.stride_time
        rng = np.random.default_rng(params.seed)
        self.phase0 = float(rng.uniform(0, 1)) if params.phase0 is None else float(params.phase0) % 1.0
        L = params.step_length_cm
        # Heel offset at HS relative to the pelvis (pelvis PELVIS_FWD of a step ahead of the ankles' midpoint).
        a1 = self._foot_world("heel", np.zeros(2), THETA_HS)["ankle"][0]
        a2 = self._foot_world("big_toe", np.zeros(2), self._stance_theta(0.5)[0])["ankle"][0]
        self.c_heel = (L - self.foot_len - a1 - a2) / 2.0 - PELVIS_FWD * L  # heel ahead of the pelvis at HS, cm
        # Foot/ankle trajectory of one foot over one cycle relative to its HS heel position.
        self._swing_setup()
        self._pelvis_height_setup()
        # Clip length and start.
        fw_cm = params.width / params.px_per_cm
        margin = 0.45 * H  # farther than any body point reaches from the pelvis
        self.start_x = -margin if params.start_x_cm is None else float(params.start_x_cm)
        if params.duration_s is not None:
            self.duration = float(params.duration_s)
        elif params.n_steps is not None:
            self.duration = params.n_steps * self.step_time
        else:
            self.duration = (fw_cm + margin - self.start_x) / self.speed
        self.n_frames = max(1, int(round(self.duration * params.fps)))
        self.floor_y = 0.9 * params.height if params.floor_y_px is None else float(params.floor_y_px)
        # Which anatomical side faces the camera.
        self.near = "r" if params.direction == "left_to_right" else "l"
        self.far = "l" if self.near == "r" else "r"

    # ------------------------------------------------------------ feet
    def _stance_theta(self, p):
        """Foot pitch (rad) and pivot name during stance phase ``p`` in [0, p_to]."""
        if p < P_FF:
            s = p / P_FF
            return THETA_HS * (1 - s) ** 2, "heel"
        if p < self.p_ho:
            return 0.0, "heel"
        s = (p - self.p_ho) / (self.p_to - self.p_ho)
        return -THETA_TO * s * s, "big_toe"

    def _foot_world(self, pivot: str, pivot_world: np.ndarray, theta: float) -> dict:
        o = self.foot_pts[pivot]
        return {k: pivot_world + _rot(v - o, theta) for k, v in self.foot_pts.items()}

    def _stance_foot(self, p) -> tuple[dict, float]:
        theta, pivot = self._stance_theta(p)
        pw = np.zeros(2) if pivot == "heel" else np.array([self.foot_len, 0.0])
        return self._foot_world(pivot, pw, theta), theta

    def _swing_setup(self):
        eps = 1e-5
        a0 = self._stance_foot(self.p_to)[0]["ankle"]
        a0m = self._stance_foot(self.p_to - eps)[0]["ankle"]
        th0 = self._stance_theta(self.p_to)[0]
        th0m = self._stance_theta(self.p_to - eps)[0]
        stride = 2 * self.p.step_length_cm
        a1 = self._stance_foot(0.0)[0]["ankle"] + np.array([stride, 0.0])
        a1p = self._stance_foot(eps)[0]["ankle"] + np.array([stride, 0.0])
        th1, th1p = self._stance_theta(0.0)[0], self._stance_theta(eps)[0]
        self._sw = dict(
            a0=a0, m_a0=(a0 - a0m) / eps, a1=a1, m_a1=(a1p - a1) / eps,
            th0=th0, m_th0=(th0 - th0m) / eps, th1=th1, m_th1=(th1p - th1) / eps,
        )  # fmt: skip

    def foot_rel(self, p: float) -> dict:
        """Foot points (cm) at own phase ``p`` in [0, 1) relative to the heel position of
        this cycle's HS (``x`` forward, ``y`` up); also ``theta`` (rad, toe up > 0)."""
        if p <= self.p_to:
            pts, theta = self._stance_foot(p)
        else:
            sw, span = self._sw, 1.0 - self.p_to
            s = (p - self.p_to) / span
            ank = _hermite(sw["a0"], sw["m_a0"], sw["a1"], sw["m_a1"], s, span)
            ank = ank + np.array([0.0, SWING_LIFT * self.H * math.sin(math.pi * s) ** 2])
            theta = float(_hermite(sw["th0"], sw["m_th0"], sw["th1"], sw["m_th1"], s, span))
            pts = self._foot_world("ankle", ank, theta)
        pts = dict(pts)
        pts["theta"] = theta
        return pts

    # ------------------------------------------------------------ pelvis
    def _pelvis_height_setup(self):
        """Tabulate the pelvis (hip joint) height over one cycle of the near foot's phase:
        a soft minimum of the standing hip height and the highest level from which both
        legs reach their ankles with ``LEG_REACH`` of their length (so the pelvis vaults
        over the stance leg and is lowest in double support)."""
        reach = LEG_REACH * (self.thigh + self.shank)
        stride = 2 * self.p.step_length_cm
        n = 720
        ps = np.arange(n) / n
        nominal = (ANKLE_H + THIGH + SHANK) * self.H - PELVIS_DROP_CM
        k = SOFTMIN_CM
        h = np.empty(n)
        for i, p in enumerate(ps):
            cands = [nominal]
            for q in (p, (p - 0.5) % 1.0):
                a = self.foot_rel(q)["ankle"]
                dx = a[0] + self.c_heel - q * stride  # ankle x relative to the pelvis
                cands.append(a[1] + math.sqrt(max(reach**2 - dx**2, 0.0)))
            c = np.array(cands)
            h[i] = c.min() - k * math.log(np.exp(-(c - c.min()) / k).sum())
        self._hip_tab = np.append(h, h[0])
        self._hip_n = n

    def pelvis_height(self, p: float) -> float:
        """Hip joint height (cm) at near-foot phase ``p`` in [0, 1)."""
        x = (p % 1.0) * self._hip_n
        i = int(x)
        f = x - i
        return float(self._hip_tab[i] * (1 - f) + self._hip_tab[i + 1] * f)

    # ------------------------------------------------------------ full body
    def phase_near(self, t):
        """Gait phase of the near-side foot at time t (s), in [0, 1)."""
        return (t / self.stride_time + self.phase0) % 1.0

    def pelvis_x(self, t):
        return self.start_x + self.speed * t

    def body(self, t: float) -> dict:
        """World positions (cm, y up) of all model points at time ``t`` (s).

        Returns a dict: HALPE26 names -> ``np.ndarray (2,)`` plus rendering extras
        (``l_hand``, ``r_hand``, ``head_center``, ``l_sole_mid``...) and ``phase`` / foot
        ``theta``.
        """
        pn = self.phase_near(t)
        L, stride = self.p.step_length_cm, 2 * self.p.step_length_cm
        px = self.pelvis_x(t)
        out: dict = {"phase": pn}
        hip_y = self.pelvis_height(pn)
        pel = np.array([px, hip_y])
        side_of = {self.near: pn, self.far: (pn - 0.5) % 1.0}
        pelvis_rot = PELVIS_ROT * math.cos(2 * math.pi * pn)  # near hip forward at near HS
        for side, q in side_of.items():
            sgn = 1.0 if side == self.near else -1.0
            # This foot's HS happened q*T ago; the pelvis moved q*stride since then.
            heel_hs_x = px - q * stride + self.c_heel
            if side != self.near:
                heel_hs_x -= self.p.step_asymmetry * L  # step-to: the far foot lands short
            f = self.foot_rel(q)
            hip = pel + np.array([sgn * HIP_HALF_WIDTH * self.H * math.sin(pelvis_rot), 0.0])
            ankle = f["ankle"] + np.array([heel_hs_x, 0.0])
            knee = self._ik(hip, ankle)
            out[f"{side}_hip"] = hip
            out[f"{side}_knee"] = knee
            out[f"{side}_ankle"] = ankle
            out[f"{side}_heel"] = f["heel"] + np.array([heel_hs_x, 0.0])
            out[f"{side}_big_toe"] = f["big_toe"] + np.array([heel_hs_x, 0.0])
            out[f"{side}_small_toe"] = f["small_toe"] + np.array([heel_hs_x, 0.0])
            out[f"{side}_foot_theta"] = f["theta"]
            out[f"{side}_phase"] = q
        out["hip"] = pel.copy()
        # Trunk.
        up = _rot(np.array([0.0, 1.0]), -TRUNK_LEAN)
        sh_mid = pel + self.H * TRUNK * up
        thorax_rot = -THORAX_ROT * math.cos(2 * math.pi * pn)
        for side, q in side_of.items():
            sgn = 1.0 if side == self.near else -1.0
            sh = sh_mid + np.array([sgn * SHOULDER_HALF_WIDTH * self.H * math.sin(thorax_rot), 0.0])
            # Arm swings opposite to the ipsilateral leg: most backward at own HS.
            flex = -ARM_SWING * math.cos(2 * math.pi * q) + math.radians(2.0)
            elbow_flex = math.radians(22.0) + math.radians(12.0) * max(0.0, -math.cos(2 * math.pi * q))
            down = np.array([0.0, -1.0])
            elbow = sh + self.H * UPPER_ARM * _rot(down, flex)
            wrist = elbow + self.H * FOREARM * _rot(down, flex + elbow_flex)
            hand = wrist + self.H * HAND * 0.75 * _rot(down, flex + elbow_flex + math.radians(5))
            out[f"{side}_shoulder"], out[f"{side}_elbow"], out[f"{side}_wrist"] = sh, elbow, wrist
            out[f"{side}_hand"] = hand
        neck = sh_mid + self.H * 0.035 * up + np.array([1.0, 0.0])
        out["neck"] = neck
        hc = neck + np.array([0.025 * self.H, 0.075 * self.H])  # head centre, cm
        out["head_center"] = hc
        out["head"] = hc + np.array([-0.005 * self.H, 0.065 * self.H])  # top of head
        out["nose"] = hc + np.array([0.062 * self.H, -0.012 * self.H])
        for side in (self.near, self.far):
            sgn = 1.0 if side == self.near else -1.0
            out[f"{side}_eye"] = hc + np.array([0.048 * self.H - (0 if sgn > 0 else 0.004 * self.H), 0.008 * self.H])
            out[f"{side}_ear"] = hc + np.array([-0.008 * self.H + (0 if sgn > 0 else 0.004 * self.H), -0.002 * self.H])
        return out

    def _ik(self, hip: np.ndarray, ankle: np.ndarray) -> np.ndarray:
        """Knee (cm) from 2-link IK, knee in front (+x). Clamps the reach if needed."""
        a, b = self.thigh, self.shank
        v = ankle - hip
        d = float(np.hypot(*v))
        d_c = min(max(d, abs(a - b) + 1e-6), a + b - 1e-6)
        cos_al = (a * a + d_c * d_c - b * b) / (2 * a * d_c)
        al = math.acos(max(-1.0, min(1.0, cos_al)))
        u = v / max(d, 1e-9)
        return hip + a * _rot(u, al)

    # ------------------------------------------------------------ image mapping
    def world_to_image(self, pt) -> np.ndarray:
        """World cm (x forward from the entry edge, y up) -> image px (x right, y down)."""
        pt = np.asarray(pt, dtype=float)
        xs = pt[..., 0] * self.p.px_per_cm
        if self.p.direction == "right_to_left":
            xs = self.p.width - xs
        ys = self.floor_y - pt[..., 1] * self.p.px_per_cm
        return np.stack([xs, ys], axis=-1)

    def image_body(self, t: float) -> dict:
        """:meth:`body` mapped to image px: names -> ``np.ndarray (2,)`` (x right, y down)."""
        b = self.body(t)
        return {k: (self.world_to_image(v) if isinstance(v, np.ndarray) else v) for k, v in b.items()}

    # ------------------------------------------------------------ events
    def events(self, t0: float = 0.0, t1: Optional[float] = None) -> list[dict]:
        """All HS/TO events of both feet with ``t0 <= time < t1`` (default: the clip),
        sorted by time: ``{"foot": "left"|"right", "event": "HS"|"TO", "time": s,
        "frame": time * fps}``."""
        t1 = self.duration if t1 is None else t1
        ev = []
        T = self.stride_time
        for side, off in ((self.near, 0.0), (self.far, 0.5)):
            for name, pe in (("HS", 0.0), ("TO", self.p_to)):
                # own phase = pn - off; event when own phase == pe -> pn = pe + off
                base = ((pe + off - self.phase0) % 1.0) * T
                k0 = math.floor((t0 - base) / T)
                t = base + k0 * T
                while t < t1:
                    if t >= t0 - 1e-12:
                        ev.append({
                            "foot": "left" if side == "l" else "right", "event": name,
                            "time": float(t), "frame": float(t * self.p.fps),
                        })  # fmt: skip
                    t += T
        ev.sort(key=lambda e: (e["time"], e["foot"], e["event"]))
        return ev


_SHIRTS = ((150, 90, 40), (40, 40, 170), (60, 120, 60), (200, 200, 200), (40, 40, 40), (30, 140, 200), (120, 60, 120))
_TROUSERS = ((60, 50, 45), (120, 80, 40), (40, 40, 40), (150, 150, 150), (60, 90, 120))
_SKINS = ((120, 160, 215), (90, 130, 185), (60, 90, 130), (150, 185, 230))
_HAIRS = ((30, 40, 60), (20, 20, 20), (60, 110, 160), (180, 180, 190))


def random_params(seed: int, **overrides) -> WalkerParams:
    """A walker drawn from the typical ranges, for validation sets: cadence U(90, 130),
    step length U(50, 80) cm, each double support U(0.075, 0.15) of the cycle, height
    U(155, 190) cm, random direction, phase and clothing/skin/hair colours; ``overrides``
    replace any field. Deterministic for ``seed``."""
    r = np.random.default_rng(seed)

    def pick(seq):
        return tuple(int(v) for v in seq[int(r.integers(len(seq)))])

    kw = dict(
        cadence=round(float(r.uniform(90, 130)), 2), step_length_cm=round(float(r.uniform(50, 80)), 2),
        double_support_fraction=round(float(r.uniform(0.075, 0.15)), 4), height_cm=round(float(r.uniform(155, 190)), 1),
        direction=DIRECTIONS[int(r.integers(2))], seed=int(seed), shirt_bgr=pick(_SHIRTS),
        trousers_bgr=pick(_TROUSERS), skin_bgr=pick(_SKINS), hair_bgr=pick(_HAIRS),
    )  # fmt: skip
    kw.update(overrides)
    return WalkerParams(**kw)


def make_walker(params: WalkerParams) -> Walker:
    """Build (and validate) the model for ``params``."""
    return Walker(params)

