"""``densepose``: detectron2 DensePose (IUV chart model) body-part segmentation, as in Health&Gait.

Health&Gait's segmentation PNGs came from DensePose (Güler et al., CVPR 2018) run with
detectron2 (``projects/DensePose``). This backend runs the same chart predictor on batches
of frames, keeps the main subject's instance and maps its 24 fine parts onto the 14 coarse
parts of :mod:`gaitprep.healthgait.palette`. All array work after the network is in
:mod:`gaitprep.backends.densepose_utils` (tested without detectron2).

detectron2 and DensePose are not on PyPI: they are imported only when the backend is
built, and :class:`~gaitprep.errors.BackendUnavailableError` says how to install them
(``docs/paper_models.md``, ``workflow/envs/densepose.yaml``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Optional

from .densepose_utils import instance_parts
from ..errors import BackendUnavailableError, InputError
from ..results import Frame, PartsResult
from ..subject import MainSubjectTracker
from ..video import batched
from ..weights import resolve_weights
from .base import SegmentationBackend

#: environment variable naming the DensePose project folder (``detectron2/projects/DensePose``)
DENSEPOSE_DIR_ENV = "GAITPREP_DENSEPOSE_DIR"

#: model name -> (config file under ``<densepose_dir>/configs``, weights file, model-zoo URL).
#: From DensePose's model zoo (``projects/DensePose/doc/DENSEPOSE_IUV.md``).
MODEL_ZOO: dict[str, tuple[str, str, str]] = {
    "densepose_rcnn_R_50_FPN_s1x": (
        "densepose_rcnn_R_50_FPN_s1x.yaml",
        "model_final_162be9.pkl",
        "https://dl.fbaipublicfiles.com/densepose/densepose_rcnn_R_50_FPN_s1x/165712039/model_final_162be9.pkl",
    ),
    "densepose_rcnn_R_101_FPN_DL_s1x": (
        "densepose_rcnn_R_101_FPN_DL_s1x.yaml",
        "model_final_844d15.pkl",
        "https://dl.fbaipublicfiles.com/densepose/densepose_rcnn_R_101_FPN_DL_s1x/165712116/model_final_844d15.pkl",
    ),
}

INSTALL_HINT = (
    "the 'densepose' backend needs detectron2 and its DensePose project, which are not on PyPI. "
    "Install them into this environment (PyTorch must be installed first):\n"
    "  python -m pip install --no-build-isolation 'git+https://github.com/facebookresearch/detectron2.git'\n"
    "  python -m pip install --no-build-isolation --no-deps "
    "'git+https://github.com/facebookresearch/detectron2@main#subdirectory=projects/DensePose'\n"
    "  python -m pip install 'av>=8.0.3'\n"
    "or run the workflow with --use-conda (workflow/envs/densepose.yaml and its post-deploy script); "
    "see docs/paper_models.md"
)


def _import_detectron2():
    """Import what the backend needs from detectron2/DensePose, or raise the install hint."""
    try:  # detectron2 first: without it this fails before torch's slow import
        from detectron2.checkpoint import DetectionCheckpointer
        from detectron2.config import get_cfg
        from detectron2.data import transforms as T
        from detectron2.modeling import build_model
        from densepose import add_densepose_config
    except ImportError as e:
        raise BackendUnavailableError(f"{INSTALL_HINT}\n(import failed: {e})") from e
    return get_cfg, add_densepose_config, build_model, DetectionCheckpointer, T


#: detectron2 config keys the backend sets itself, and the parameter that sets each
OWN_KEYS = {
    "MODEL.ROI_HEADS.SCORE_THRESH_TEST": "min_score",
    "MODEL.WEIGHTS": "weights",
    "MODEL.DEVICE": "the configured device",
}


def merge_opts(cfg, opts: list) -> None:
    """Apply ``opts`` (``["KEY", "VALUE", ...]``) to a detectron2 ``CfgNode``, pair by pair.

    Values are passed as strings, as on detectron2's command line
    (``CfgNode.merge_from_list``: a value is parsed as a Python literal and must have the
    default's type, e.g. ``INPUT.MIN_SIZE_TEST 512``, ``TEST.DETECTIONS_PER_IMAGE 10``).

    Raises:
        InputError: naming the key and value, when the key does not exist (detectron2:
            ``AssertionError: Non-existent key``), the value has the wrong type
            (``ValueError: Type mismatch``) or cannot be parsed, or the key is one the backend
            sets from its own parameters (:data:`OWN_KEYS`).
    """
    for key, value in zip(opts[::2], opts[1::2]):
        key, value = str(key), str(value)
        if key in OWN_KEYS:
            raise InputError(f"densepose: `opts` may not set {key}; use {OWN_KEYS[key]} instead")
        try:
            cfg.merge_from_list([key, value])
        except AssertionError as e:  # yacs: "Non-existent key: ..."
            raise InputError(f"densepose: `opts` key {key} is not a detectron2/DensePose config key ({e})") from e
        except (ValueError, TypeError, KeyError) as e:  # yacs: "Type mismatch (...) with values (...) ..."
            raise InputError(f"densepose: `opts` {key} {value!r}: bad value ({e})") from e


class DensePoseBackend(SegmentationBackend):
    """DensePose chart model -> :class:`~gaitprep.results.PartsResult` per frame.

    Stages: ``__init__`` resolves the config and weights, builds the detectron2 model on
    ``ctx.device`` and loads the weights; :meth:`run` resizes each batch of frames as
    detectron2's ``DefaultPredictor`` does (shortest edge ``INPUT.MIN_SIZE_TEST``, at most
    ``INPUT.MAX_SIZE_TEST``, ``INPUT.FORMAT`` channel order), runs the batch in one forward
    pass, and post-processes each frame with :func:`gaitprep.backends.densepose_utils.instance_parts`
    (main subject by :class:`~gaitprep.subject.MainSubjectTracker` over the instance boxes).

    Raises (at construction):
        BackendUnavailableError: detectron2 or DensePose is not installed.
        InputError: the config file cannot be found or read, is not a chart (IUV) model,
            or an ``opts`` entry is not a valid config key/value (see :func:`merge_opts`).
        WeightsNotFoundError: the weights are not found and may not be downloaded.
    """

    name = "densepose"
    uses_gpu = True

    @dataclass
    class Params:
        #: a :data:`MODEL_ZOO` name (config ``<densepose_dir>/configs/<model>.yaml``) or a
        #: path to a DensePose IUV config ``.yaml``
        model: str = "densepose_rcnn_R_50_FPN_s1x"
        #: the DensePose project folder (``detectron2/projects/DensePose``, holding
        #: ``configs/``); default ``$GAITPREP_DENSEPOSE_DIR``. Not needed when ``model`` is a path.
        densepose_dir: Optional[str] = None
        #: weights file (path or name in ``models_dir``); default: the model zoo's file
        #: name for ``model`` (e.g. ``model_final_162be9.pkl``)
        weights: Optional[str] = None
        #: detections below this confidence are dropped (``MODEL.ROI_HEADS.SCORE_THRESH_TEST``;
        #: 0.8 is DensePose ``apply_net.py show``'s default)
        min_score: float = 0.8
        #: frames per forward pass
        batch_size: int = 4
        #: main-subject continuity: least IoU with the subject's last box
        min_iou: float = 0.2
        #: extra detectron2 config overrides, ``["KEY", "VALUE", ...]`` (``cfg.merge_from_list``)
        opts: list = field(default_factory=list)

        def __post_init__(self):
            if self.batch_size < 1:
                raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
            if not 0.0 <= self.min_score <= 1.0:
                raise ValueError(f"min_score must be in [0, 1], got {self.min_score}")
            if len(self.opts) % 2:
                raise ValueError(f"opts must be KEY VALUE pairs, got {self.opts}")

    def __init__(self, params: Optional[dict] = None, ctx=None):
        super().__init__(params, ctx)
        get_cfg, add_densepose_config, build_model, DetectionCheckpointer, T = _import_detectron2()
        p = self.params
        self.config_path = self._config_path()
        self.weights_path = self._weights()
        cfg = get_cfg()
        add_densepose_config(cfg)
        import yaml

        try:
            cfg.merge_from_file(self.config_path)
        except (AssertionError, KeyError, ValueError, TypeError, OSError, yaml.YAMLError) as e:
            # yacs reports a bad key as a bare AssertionError "Non-existent key: ..."
            raise InputError(f"densepose: config {self.config_path} cannot be read by detectron2/DensePose: {e}") from e
        merge_opts(cfg, p.opts)
        cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST = float(p.min_score)
        cfg.MODEL.WEIGHTS = self.weights_path
        cfg.MODEL.DEVICE = self.ctx.device
        cfg.freeze()
        if not cfg.MODEL.DENSEPOSE_ON or "Embedding" in str(cfg.MODEL.ROI_DENSEPOSE_HEAD.PREDICTOR_NAME):
            raise InputError(
                f"{self.config_path}: not a DensePose chart (IUV) model; use one of {sorted(MODEL_ZOO)} "
                "or another config from DensePose's IUV model zoo (CSE models give no part labels)"
            )
        self.cfg = cfg
        self.model = build_model(cfg)
        self.model.eval()
        DetectionCheckpointer(self.model).load(self.weights_path)
        self.aug = T.ResizeShortestEdge([cfg.INPUT.MIN_SIZE_TEST, cfg.INPUT.MIN_SIZE_TEST], cfg.INPUT.MAX_SIZE_TEST)
        self.input_format = cfg.INPUT.FORMAT

    def _config_path(self) -> str:
        p = self.params
        if p.model.endswith((".yaml", ".yml")):
            path = Path(p.model).expanduser()
            if not path.is_file():
                raise InputError(f"densepose: config file {path} does not exist")
            return str(path)
        if p.model not in MODEL_ZOO:
            raise InputError(
                f"densepose: unknown model {p.model!r}; use one of {sorted(MODEL_ZOO)} or a path to a config .yaml"
            )
        d = p.densepose_dir or os.environ.get(DENSEPOSE_DIR_ENV)
        if not d:
            raise InputError(
                "densepose: set `densepose_dir` (the detectron2/projects/DensePose folder, which holds configs/) "
                f"in the backend params or the {DENSEPOSE_DIR_ENV} environment variable"
            )
        path = Path(d).expanduser() / "configs" / MODEL_ZOO[p.model][0]
        if not path.is_file():
            raise InputError(
                f"densepose: config {path} not found; `densepose_dir` ({d}) must be detectron2's projects/DensePose folder"
            )
        return str(path)

    def _weights(self) -> str:
        p = self.params
        name = p.weights or (MODEL_ZOO[p.model][1] if p.model in MODEL_ZOO else None)
        if not name:
            raise InputError("densepose: `weights` must be given when `model` is a config path")
        found = resolve_weights(name, self.ctx.models_dir, self.ctx.allow_download, what="DensePose weights")
        if found == name and not Path(name).is_file() and p.model in MODEL_ZOO and name == MODEL_ZOO[p.model][1]:
            return MODEL_ZOO[p.model][2]  # allow_download: detectron2 fetches the model-zoo URL
        return found

    def _inputs(self, batch: list[Frame]) -> list[dict]:
        import torch

        inputs = []
        for f in batch:
            img = f.image[:, :, ::-1] if self.input_format == "RGB" else f.image
            h, w = img.shape[:2]
            resized = self.aug.get_transform(img).apply_image(img)
            tensor = torch.as_tensor(resized.astype("float32").transpose(2, 0, 1))
            inputs.append({"image": tensor, "height": h, "width": w})
        return inputs

    def run(self, frames: Iterable[Frame]) -> Iterator[PartsResult]:
        import torch

        tracker = MainSubjectTracker(min_iou=self.params.min_iou, min_score=self.params.min_score)
        for batch in batched(frames, self.params.batch_size):
            # the batch is finished inside inference mode; results are yielded outside it so
            # that the caller's code between frames never runs in torch's inference mode
            with torch.inference_mode():
                outputs = self.model(self._inputs(batch))
                results = [
                    PartsResult(f.index, self._parts(f, out["instances"], tracker)) for f, out in zip(batch, outputs)
                ]
            yield from results

    def _parts(self, frame: Frame, inst, tracker: MainSubjectTracker):
        if len(inst) == 0 or not inst.has("pred_densepose"):
            tracker.select([], None)
            return None
        dp = inst.pred_densepose
        if not hasattr(dp, "fine_segm"):
            raise InputError(f"{self.config_path}: the model gives no fine segmentation (not an IUV model)")
        return instance_parts(
            inst.pred_boxes.tensor.cpu().numpy(),
            inst.scores.cpu().numpy(),
            dp.fine_segm,
            dp.coarse_segm,
            frame.image.shape[:2],
            tracker,
        )

    def provenance(self) -> dict:
        d = super().provenance()
        d.update({"config": self.config_path, "weights": self.weights_path, "model_family": "detectron2 DensePose IUV"})
        try:
            import detectron2

            d["detectron2_version"] = getattr(detectron2, "__version__", None)
        except ImportError:  # pragma: no cover - the backend cannot be built without it
            pass
        return d

    def close(self) -> None:
        self.model = None
