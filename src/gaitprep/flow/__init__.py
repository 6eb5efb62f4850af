"""Optical-flow engines that gaitprep implements itself.

* :mod:`~gaitprep.flow.tvl1` - batched duality-based TV-L1 in PyTorch (CPU and CUDA),
  following OpenCV's ``DualTVL1OpticalFlow``;
* :mod:`~gaitprep.flow.tvl1_params` - the one TV-L1 parameter set shared by the OpenCV and
  PyTorch backends, and the grey/downscale step both use;
* :mod:`~gaitprep.flow.roi` - the motion ROI (``roi: true``): solve TV-L1 only on a box
  around what changes between the two frames (off by default, docs/flow.md "Motion ROI").

The backend adapters (``tvl1-opencv``, ``tvl1-torch``, ``gmflow``) live in
:mod:`gaitprep.backends`; the colour coding of the written PNGs in
:mod:`gaitprep.healthgait.flowcode`.
"""
