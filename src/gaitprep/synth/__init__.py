"""Synthetic side-view walker with exact ground truth.

Used as gaitprep's offline demo clip and as the known-truth validation set for gait
parameter estimation:

* :class:`WalkerParams` - cadence, step length, double support, direction, size, clip length,
  colours;
* :func:`walker_keypoints` - exact per-frame 2D keypoints (Halpe-26 names, full-frame px),
  no rendering needed;
* :func:`walker_truth` - the truth dict (events, spatio-temporal parameters);
* :func:`render_walker` - render the clip to an mp4 and write its truth JSON
  (:func:`truth_path_for`: ``clip.mp4`` -> ``clip.truth.json``);
* :func:`random_params` - a walker drawn from the typical ranges (validation sets).

The model is described in :mod:`gaitprep.synth.model`, the truth format in
:mod:`gaitprep.synth.truth`.
"""

from .model import Walker, WalkerParams, random_params
from .render import load_truth, render_walker, truth_path_for
from .truth import events_in_view, walker_keypoints, walker_pose_results, walker_truth

__all__ = [
    "Walker", "WalkerParams", "load_truth", "random_params", "render_walker", "truth_path_for",
    "events_in_view", "walker_keypoints", "walker_pose_results", "walker_truth",
]  # fmt: skip
