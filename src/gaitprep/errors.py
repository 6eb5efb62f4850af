"""Errors gaitprep raises on bad input: each message names the file and what is wrong."""


class GaitprepError(Exception):
    """Base class of gaitprep's own errors."""


class InputError(GaitprepError):
    """A sample sheet, config or input folder is wrong."""


class VideoError(GaitprepError):
    """A video cannot be opened or decoded."""


class WeightsNotFoundError(GaitprepError, FileNotFoundError):
    """A model's weights are not where gaitprep looked, and may not be downloaded."""


class BackendUnavailableError(GaitprepError, ImportError):
    """A backend's library is not installed; the message says how to install it."""


class CalibrationError(GaitprepError):
    """The pixel-to-cm calibration of a clip cannot be made."""
