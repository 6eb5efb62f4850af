"""Exports of gaitprep's outputs to formats other tools read, written outside the
Health&Gait folders (``<output_dir>/exports/``): :mod:`gaitprep.export.trc` (pose as
OpenSim/Pose2Sim/Sports2D ``.trc`` marker files)."""
