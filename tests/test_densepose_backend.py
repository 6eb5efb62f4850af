"""The ``densepose`` backend where detectron2 is not needed: parameter checks before any
import, and the install message when detectron2 or DensePose cannot be imported (the
import is blocked for the test, so this runs with or without them installed). The backend
on the real detectron2 DensePose: tests/test_densepose_real.py.
"""

import pytest

from fixtures.densepose_real import block_import
from gaitprep.backends import get_backend_class
from gaitprep.errors import BackendUnavailableError, GaitprepError, InputError


def backend_class():
    return get_backend_class("segmentation", "densepose")


def test_bad_params_are_rejected_before_importing():
    with pytest.raises(InputError, match="unknown parameter"):
        backend_class()({"weight": "x.pkl"})
    with pytest.raises(InputError, match="batch_size"):
        backend_class()({"batch_size": 0})
    with pytest.raises(InputError, match="KEY VALUE pairs"):
        backend_class()({"opts": ["INPUT.MIN_SIZE_TEST"]})


@pytest.mark.parametrize("missing", ["detectron2", "densepose"])
def test_import_failure_gives_the_install_hint(missing, monkeypatch):
    block_import(monkeypatch, missing)  # restored afterwards: test order does not matter
    with pytest.raises(BackendUnavailableError) as e:
        backend_class()({})
    assert isinstance(e.value, ImportError) and isinstance(e.value, GaitprepError)
    msg = str(e.value)
    for words in ("detectron2", "--no-build-isolation", "subdirectory=projects/DensePose", "docs/paper_models.md"):
        assert words in msg, words
    assert "import failed" in msg and missing in msg
