"""``alphapose``: drive an installed AlphaPose (the paper's pose model) as a subprocess.

Health&Gait's pose JSON came from AlphaPose (Fang et al., TPAMI 2022). AlphaPose is not on
PyPI and runs on a whole video, not on streamed frames, so this backend calls an installed
AlphaPose's ``scripts/demo_inference.py`` on the clip's video file, with tracking on, and
reads the ``alphapose-results.json`` it writes.

The results format, read from AlphaPose's source (``alphapose/utils/pPose_nms.py``
``write_json`` and ``alphapose/utils/writer.py``, ``alphapose/utils/detector.py``,
``trackers/__init__.py``): without ``--format`` the file is one JSON list with one
element per detected person per frame::

    {"image_id": "<k>.jpg",          # k = 0-based frame index in the video (video mode);
                                     # an int k with --eval
     "category_id": 1,
     "keypoints": [x0, y0, s0, x1, y1, s1, ...],   # K keypoints, full-frame px, s ~ 0..1
     "score": float,                 # mean(s) + detection score + 1.25 * max(s): not 0..1
     "box": [x, y, w, h],            # px; present in AlphaPose >= 0.6 (older: absent)
     "idx": <track id>}              # int with --pose_track / --pose_flow;
                                     # a list of floats (merged box ids) without tracking

Frames with no detection have no element. K is 17 (COCO order, :data:`gaitprep.results.COCO17`)
or 26 (Halpe-26, :data:`gaitprep.results.HALPE26`); Halpe-136 (first 26 are Halpe-26) and
COCO-WholeBody-133 (first 17 are COCO) are read as their body part. ``--format cmu`` or
``open`` write other layouts, which gaitprep refuses (it never passes ``--format``).

Note: ``demo_inference.py`` catches exceptions in its main loop, prints
"An error as above occurs when processing the images" and exits 0 without writing the
results file; gaitprep treats that output, like a non-zero exit or a missing file, as an
error naming the command and the log's last lines.
"""

from __future__ import annotations

import collections
import json
import math
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Optional

import numpy as np

from ..errors import GaitprepError, InputError
from ..results import COCO17, HALPE26, Frame, Joint, PoseResult
from ..subject import MainSubjectTracker
from ..weights import resolve_weights
from .base import PoseBackend

RESULTS_FILE = "alphapose-results.json"
ROOT_ENV = "GAITPREP_ALPHAPOSE_ROOT"
PYTHON_ENV = "GAITPREP_ALPHAPOSE_PYTHON"
#: what demo_inference.py prints when it swallowed an exception (and exits 0)
SWALLOWED_ERROR = "An error as above occurs"
#: number of keypoints -> (how many leading keypoints to keep, their names)
KEYPOINT_LAYOUTS = {17: COCO17, 26: HALPE26, 133: COCO17, 136: HALPE26}
TRACKING = ("pose_track", "pose_flow", "none")


class AlphaPoseError(GaitprepError):
    """AlphaPose failed, or what it wrote cannot be read."""


class AlphaPoseRunError(AlphaPoseError):
    """The AlphaPose command failed (non-zero exit, timeout, or an error it swallowed)."""


class AlphaPoseResultsError(AlphaPoseError):
    """The results file is missing or malformed."""


@dataclass
class Detection:
    """One person in one frame as AlphaPose reported it.

    Attributes:
        keypoints: ``(K, 3)`` float: x, y px (full frame) and score.
        box: ``x_min, y_min, x_max, y_max`` px (from ``box``, else the keypoints' extent).
        score: AlphaPose's proposal score (not in 0..1).
        track_id: the tracker's id, or None (no tracking).
    """

    keypoints: np.ndarray
    box: tuple[float, float, float, float]
    score: float
    track_id: Optional[int]

    @property
    def keypoint_score(self) -> float:
        """Mean keypoint score, 0..1 (the confidence gaitprep's subject tracker uses)."""
        return float(np.clip(self.keypoints[:, 2], 0, 1).mean())


def _frame_index(image_id, where: str) -> int:
    if isinstance(image_id, bool):
        raise AlphaPoseResultsError(f"{where}: image_id {image_id!r} is not a frame name")
    if isinstance(image_id, int):
        return image_id
    if isinstance(image_id, str):
        stem = os.path.basename(image_id).split(".")[0]
        if stem.isdigit():
            return int(stem)
    raise AlphaPoseResultsError(
        f"{where}: image_id {image_id!r} is not a video frame name like '12.jpg' "
        "(was AlphaPose run on a video with --video?)"
    )


def _track_id(idx) -> Optional[int]:
    if isinstance(idx, bool) or idx is None:
        return None
    if isinstance(idx, int):
        return idx
    if isinstance(idx, float) and math.isfinite(idx) and idx == int(idx):
        return int(idx)
    return None  # a list of merged box ids (no tracking) or anything else: no track id


def parse_results(path: str | Path) -> tuple[dict[int, list[Detection]], int]:
    """Read an ``alphapose-results.json`` (format in the module docstring).

    Returns:
        ``({frame index: [Detection, ...]}, K)`` with K the keypoint count per person
        (0 when the file holds no detection at all).

    Raises:
        AlphaPoseResultsError: the file is missing, not JSON, not the default list format,
            or an element lacks or has malformed ``image_id``/``keypoints``, or K differs
            between elements or is not one of 17, 26, 133, 136.
    """
    path = Path(path)
    if not path.is_file():
        raise AlphaPoseResultsError(f"{path}: AlphaPose results file does not exist")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise AlphaPoseResultsError(f"{path}: malformed AlphaPose results (not valid JSON: {e})") from e
    if isinstance(data, dict):
        raise AlphaPoseResultsError(
            f"{path}: AlphaPose results are in the CMU/OpenPose layout (--format cmu/open); "
            "gaitprep reads the default list layout: run AlphaPose without --format"
        )
    if not isinstance(data, list):
        raise AlphaPoseResultsError(f"{path}: expected a JSON list of detections, got {type(data).__name__}")
    frames: dict[int, list[Detection]] = collections.defaultdict(list)
    k_seen = 0
    for n, el in enumerate(data):
        where = f"{path}: element {n}"
        if not isinstance(el, dict) or "image_id" not in el or "keypoints" not in el:
            raise AlphaPoseResultsError(f"{where}: expected an object with 'image_id' and 'keypoints'")
        index = _frame_index(el["image_id"], where)
        kp = el["keypoints"]
        try:
            kp = np.asarray(kp, dtype=float)
        except (TypeError, ValueError) as e:
            raise AlphaPoseResultsError(f"{where}: keypoints are not numbers") from e
        if kp.ndim != 1 or kp.size == 0 or kp.size % 3:
            raise AlphaPoseResultsError(
                f"{where}: keypoints must be a flat list [x, y, score] * K, got {kp.size} values"
            )
        k = kp.size // 3
        if k not in KEYPOINT_LAYOUTS:
            raise AlphaPoseResultsError(
                f"{where}: {k} keypoints per person; gaitprep reads 17 (COCO), 26 (Halpe-26), 133, 136"
            )
        if k_seen and k != k_seen:
            raise AlphaPoseResultsError(f"{where}: {k} keypoints but earlier elements have {k_seen}")
        k_seen = k
        kp = kp.reshape(k, 3)
        if not np.isfinite(kp).all():
            raise AlphaPoseResultsError(f"{where}: keypoints contain NaN or infinity")
        box = el.get("box")
        if isinstance(box, list) and len(box) == 4:
            x, y, w, h = (float(v) for v in box)
            xyxy = (x, y, x + w, y + h)
        else:
            xyxy = (float(kp[:, 0].min()), float(kp[:, 1].min()), float(kp[:, 0].max()), float(kp[:, 1].max()))
        score = el.get("score")
        score = float(score) if isinstance(score, (int, float)) else float(kp[:, 2].mean())
        frames[index].append(Detection(kp, xyxy, score, _track_id(el.get("idx"))))
    return dict(frames), k_seen


def checkout_root(alphapose_root: Optional[str], who: str) -> Path:
    """The AlphaPose checkout: the backend's ``alphapose_root`` or, unset, ``$GAITPREP_ALPHAPOSE_ROOT``.

    Raises:
        InputError: neither is set (``who`` names the backend).
    """
    root = alphapose_root or os.environ.get(ROOT_ENV)
    if not root:
        raise InputError(
            f"{who}: set `alphapose_root` (an AlphaPose checkout) in the backend params or the {ROOT_ENV} "
            "environment variable; see docs/paper_models.md"
        )
    return Path(root).expanduser().resolve()


def resolve_config_and_checkpoint(root: Path, cfg: str, checkpoint: str, models_dir, who: str) -> tuple[str, str]:
    """An AlphaPose config and pose checkpoint as absolute paths.

    ``cfg`` is absolute or relative to the AlphaPose checkout ``root``; ``checkpoint`` is a
    path relative to ``root`` when that file exists, else it is looked up by the weights
    search order (:func:`gaitprep.weights.resolve_weights`: explicit path, then
    ``models_dir``; never downloaded).

    Raises:
        InputError: the config file does not exist (``who`` names the backend).
        WeightsNotFoundError: the checkpoint is nowhere to be found.
    """
    c = Path(cfg).expanduser()
    c = c if c.is_absolute() else Path(root) / c
    if not c.is_file():
        raise InputError(f"{who}: config {c} not found")
    ck = Path(checkpoint).expanduser()
    if not ck.is_absolute() and (Path(root) / ck).is_file():
        return str(c), str(Path(root) / ck)
    return str(c), str(Path(resolve_weights(checkpoint, models_dir, False, what="AlphaPose pose checkpoint")).resolve())


def joints_from_keypoints(kp: np.ndarray, size: Optional[tuple[int, int]] = None) -> dict[str, Joint]:
    """``(K, 3)`` AlphaPose keypoints (x, y px, score) -> ``{spec name: Joint}`` (scores
    clipped to 0..1).

    K = 17: :data:`~gaitprep.results.COCO17`; 26: :data:`~gaitprep.results.HALPE26`;
    136: its first 26 (Halpe-26); 133: its first 17 (COCO). With ``size = (width, height)``
    a keypoint outside the frame (AlphaPose decodes heatmaps over a crop that may extend past
    the image) is clipped to it with score 0 (:meth:`Joint.in_frame`).
    """
    names = KEYPOINT_LAYOUTS[len(kp)]
    if size is not None:
        return {n: Joint.in_frame(kp[i, 0], kp[i, 1], kp[i, 2], size[0], size[1]) for i, n in enumerate(names)}
    return {
        n: Joint(float(kp[i, 0]), float(kp[i, 1]), float(min(max(kp[i, 2], 0.0), 1.0))) for i, n in enumerate(names)
    }


def main_track(frames: dict[int, list[Detection]], indices: Iterable[int], min_score: float = 0.0) -> Optional[int]:
    """The track id of the clip's main subject over ``indices``, or None without track ids.

    The walking subject is the person seen in the most frames of the clip (a bystander or
    a passer-by is seen in fewer); ties go to the track whose box centre travels farther
    (the walker), then to the larger summed box area x mean keypoint score. Only
    detections with mean keypoint score >= ``min_score`` count.
    """
    seen: dict[int, int] = collections.Counter()
    travel: dict[int, float] = collections.Counter()
    weight: dict[int, float] = collections.Counter()
    last_centre: dict[int, tuple[float, float]] = {}
    for index in indices:
        for d in frames.get(index, []):
            t = d.track_id
            if t is None or d.keypoint_score < min_score:
                continue
            x0, y0, x1, y1 = d.box
            centre = ((x0 + x1) / 2, (y0 + y1) / 2)
            if t in last_centre:
                travel[t] += math.dist(centre, last_centre[t])
            last_centre[t] = centre
            seen[t] += 1
            weight[t] += max(x1 - x0, 0) * max(y1 - y0, 0) * d.keypoint_score
    if not seen:
        return None
    return max(seen, key=lambda t: (seen[t], round(travel[t], 3), weight[t], -t))


def select_subject(
    frames: dict[int, list[Detection]],
    indices: Iterable[int],
    tracker: MainSubjectTracker,
    size: Optional[tuple[int, int]] = None,
) -> Iterator[PoseResult]:
    """Pick the main subject in each frame of ``indices`` (in order) and yield its pose
    (keypoints kept inside the ``size = (width, height)`` frame when given, see
    :func:`joints_from_keypoints`).

    With track ids, the subject is :func:`main_track`'s track wherever it is present; the
    tracker starts on that track's first box, and where the track is absent it follows box
    continuity (IoU with the subject's last box: this bridges a tracker's id switch) or
    gives nobody. Without track ids the tracker alone decides (largest person first, then
    continuity). Frames without a selected detection give ``joints=None``.
    """
    indices = list(indices)
    main = main_track(frames, indices, tracker.min_score)
    if main is not None:
        first = next(d for i in indices for d in frames.get(i, []) if d.track_id == main)
        tracker.track_id, tracker.last_box = main, np.asarray(first.box, float)
    for index in indices:
        dets = frames.get(index, [])
        if not dets:
            tracker.select(np.zeros((0, 4)), None)
            yield PoseResult(index, None)
            continue
        i = tracker.select(
            np.array([d.box for d in dets]),
            np.array([d.keypoint_score for d in dets]),
            [d.track_id for d in dets],
        )
        if main is not None:
            tracker.track_id = main  # an id picked up by continuity never replaces the main track
        if i is None:
            yield PoseResult(index, None)
        else:
            yield PoseResult(index, joints_from_keypoints(dets[i].keypoints, size), box=dets[i].box)


def gpus_arg(device: str) -> str:
    """Torch device string -> AlphaPose ``--gpus`` value (``cpu`` -> ``-1``, ``cuda:N`` -> ``N``)."""
    device = str(device or "cpu")
    if device == "cpu":
        return "-1"
    if device.startswith("cuda"):
        return device.partition(":")[2] or "0"
    raise InputError(f"alphapose: cannot map device {device!r} to AlphaPose --gpus")


def run_command(cmd: list[str], cwd: str, log=None, timeout: Optional[float] = None, tail_lines: int = 30) -> list[str]:
    """Run ``cmd`` in ``cwd``, streaming its merged stdout/stderr line by line to ``log``.

    Returns:
        The last ``tail_lines`` lines of output.

    Raises:
        AlphaPoseRunError: the command cannot be started, exits non-zero, runs past
            ``timeout`` seconds (it is then killed), or prints AlphaPose's swallowed-error
            message; the message names the command and shows the last lines of output.
    """
    shown = " ".join(shlex.quote(c) for c in cmd)
    tail: collections.deque[str] = collections.deque(maxlen=tail_lines)
    swallowed = []
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    try:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    except OSError as e:
        raise AlphaPoseRunError(f"cannot start AlphaPose: {e}\ncommand (in {cwd}): {shown}") from e

    def pump():
        for raw in proc.stdout:  # bytes: \r must not count as a line end
            line = raw.decode("utf-8", "replace").rstrip("\r\n").split("\r")[-1]  # tqdm redraws with \r
            if not line.strip():
                continue
            tail.append(line)
            if SWALLOWED_ERROR in line:
                swallowed.append(line)
            if log is not None:
                log.info("alphapose: %s", line)

    reader = threading.Thread(target=pump, daemon=True, name="alphapose-log")
    reader.start()
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        reader.join(5)
        raise AlphaPoseRunError(
            f"AlphaPose ran longer than {timeout} s and was killed\ncommand (in {cwd}): {shown}\n" + "\n".join(tail)
        ) from None
    reader.join(30)
    if rc != 0:
        raise AlphaPoseRunError(
            f"AlphaPose exited with status {rc}\ncommand (in {cwd}): {shown}\nlast output:\n" + "\n".join(tail)
        )
    if swallowed:
        raise AlphaPoseRunError(
            f"AlphaPose reported an error (and exited 0)\ncommand (in {cwd}): {shown}\nlast output:\n" + "\n".join(tail)
        )
    return list(tail)


class AlphaPoseBackend(PoseBackend):
    """Installed AlphaPose -> :class:`~gaitprep.results.PoseResult` per frame.

    :meth:`run` consumes the frame iterator only to learn the frame indices (the runner
    gives ``[start, end)``), runs AlphaPose once on ``ctx.video.path`` into a temporary
    output folder, parses its results and yields one result per received frame index,
    in order. AlphaPose numbers frames by sequential decoding from 0, like
    :class:`gaitprep.video.VideoReader`.

    Raises (at construction):
        InputError: no AlphaPose root, no ``scripts/demo_inference.py`` in it, a missing
            ``cfg``, or a bad ``tracking`` value.
        WeightsNotFoundError: the pose checkpoint is not found.
    """

    name = "alphapose"
    uses_gpu = True

    @dataclass
    class Params:
        #: the AlphaPose checkout (holds ``scripts/demo_inference.py``, ``configs/``,
        #: ``detector/``); default ``$GAITPREP_ALPHAPOSE_ROOT``
        alphapose_root: Optional[str] = None
        #: python of the environment where AlphaPose is installed; default
        #: ``$GAITPREP_ALPHAPOSE_PYTHON``, else the running interpreter
        python: Optional[str] = None
        #: AlphaPose config, relative to the root or absolute (Halpe-26:
        #: ``configs/halpe_26/resnet/256x192_res50_lr1e-3_1x.yaml``)
        cfg: str = "configs/coco/resnet/256x192_res50_lr1e-3_1x.yaml"
        #: pose checkpoint: relative to the root, absolute, or a file name in ``models_dir``
        #: (Halpe-26: ``pretrained_models/halpe26_fast_res50_256x192.pth``)
        checkpoint: str = "pretrained_models/fast_res50_256x192.pth"
        #: ``pose_track`` (--pose_track, re-id tracker), ``pose_flow`` (--pose_flow) or ``none``
        tracking: str = "pose_track"
        #: AlphaPose ``--detector`` (its weights live under the root's ``detector/``)
        detector: str = "yolo"
        #: more ``demo_inference.py`` arguments, e.g. ``["--posebatch", "32"]``
        extra_args: list = field(default_factory=list)
        #: seconds before AlphaPose is killed (None: no limit)
        timeout_s: Optional[float] = None
        #: folder for AlphaPose's output folder (default: the system temp folder)
        workdir: Optional[str] = None
        #: keep AlphaPose's output folder (for debugging) instead of deleting it
        keep_outputs: bool = False
        #: least mean keypoint score (0..1) for a person to count
        min_score: float = 0.2
        #: main-subject continuity: least IoU with the subject's last box
        min_iou: float = 0.2

        def __post_init__(self):
            if self.tracking not in TRACKING:
                raise ValueError(f"tracking must be one of {TRACKING}, got {self.tracking!r}")
            if not all(isinstance(a, (str, int, float)) for a in self.extra_args):
                raise ValueError(f"extra_args must be a list of strings, got {self.extra_args!r}")
            forbidden = {"--video", "--outdir", "--format", "--eval", "--gpus", "--cfg", "--checkpoint"}
            clash = forbidden & {str(a) for a in self.extra_args}
            if clash:
                raise ValueError(f"extra_args may not set {sorted(clash)}: gaitprep sets them")

    def __init__(self, params: Optional[dict] = None, ctx=None):
        super().__init__(params, ctx)
        p = self.params
        self.root = checkout_root(p.alphapose_root, "alphapose")
        self.script = self.root / "scripts" / "demo_inference.py"
        if not self.script.is_file():
            raise InputError(f"alphapose: {self.script} not found: `alphapose_root` must be an AlphaPose checkout")
        self.python = p.python or os.environ.get(PYTHON_ENV) or sys.executable
        self.cfg_path, self.checkpoint_path = resolve_config_and_checkpoint(
            self.root, p.cfg, p.checkpoint, self.ctx.models_dir, "alphapose"
        )
        self.gpus = gpus_arg(self.ctx.device)

    def command(self, video: str, outdir: str) -> list[str]:
        """The ``demo_inference.py`` command line for ``video`` writing into ``outdir``."""
        p = self.params
        cmd = [
            self.python, str(self.script),
            "--cfg", self.cfg_path,
            "--checkpoint", self.checkpoint_path,
            "--video", str(Path(video).resolve()),
            "--outdir", str(Path(outdir).resolve()),
            "--detector", p.detector,
            "--gpus", self.gpus,
            "--sp",
        ]  # fmt: skip
        if p.tracking != "none":
            cmd.append(f"--{p.tracking}")
        return cmd + [str(a) for a in p.extra_args]

    def run(self, frames: Iterable[Frame]) -> Iterator[PoseResult]:
        video = self.ctx.video
        if video is None or not getattr(video, "path", None):
            raise InputError("alphapose: the backend needs the clip's video file (ctx.video.path)")
        indices = [f.index for f in frames]  # images are dropped at once
        if not indices:
            return
        log = self.ctx.log
        outdir = tempfile.mkdtemp(prefix="gaitprep-alphapose-", dir=self.params.workdir)
        try:
            cmd = self.command(video.path, outdir)
            if log is not None:
                log.info("alphapose: running %s (in %s)", " ".join(shlex.quote(c) for c in cmd), self.root)
            try:
                tail = run_command(cmd, str(self.root), log, self.params.timeout_s)
            except AlphaPoseRunError as e:
                if "No module named" in str(e):
                    raise AlphaPoseRunError(
                        f"{e}\nhint: {self.python} cannot import AlphaPose's modules; set the backend's `python` "
                        f"(or ${PYTHON_ENV}) to the interpreter of the environment where AlphaPose is installed"
                    ) from e
                raise
            results = Path(outdir) / RESULTS_FILE
            if not results.is_file():
                raise AlphaPoseResultsError(
                    f"{results}: AlphaPose wrote no results file\ncommand (in {self.root}): "
                    + " ".join(shlex.quote(c) for c in cmd)
                    + "\nlast output:\n"
                    + "\n".join(tail)
                )
            detections, k = parse_results(results)
            self.keypoints_per_person = k
        finally:
            if self.params.keep_outputs:
                if log is not None:
                    log.info("alphapose: outputs kept in %s", outdir)
            else:
                shutil.rmtree(outdir, ignore_errors=True)
        if log is not None:
            n_in = sum(1 for i in indices if detections.get(i))
            log.info("alphapose: %d keypoints per person; detections in %d of %d frames", k, n_in, len(indices))
        tracker = MainSubjectTracker(min_iou=self.params.min_iou, min_score=self.params.min_score)
        size = (int(video.width), int(video.height)) if getattr(video, "width", None) else None
        yield from select_subject(detections, indices, tracker, size)

    def provenance(self) -> dict:
        d = super().provenance()
        d.update(
            {
                "alphapose_root": str(self.root),
                "python": self.python,
                "cfg": self.cfg_path,
                "checkpoint": self.checkpoint_path,
                "keypoints_per_person": getattr(self, "keypoints_per_person", None),
            }
        )
        return d
