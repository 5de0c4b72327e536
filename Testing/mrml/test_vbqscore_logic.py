"""VBQScoreLogic end to end on real MRML nodes (module file loaded with the GUI parts stubbed)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

pytestmark = [
    pytest.mark.mrml,
    pytest.mark.skipif(importlib.util.find_spec("spinequant.vbq") is None,
                       reason="spinequant.vbq is not written yet"),
]

VTK_DOUBLE = 11


def test_vbq_from_landmarks_on_sagittal_phantom(mrml_scene, load_module_file):
    module = load_module_file("VBQScore")
    volume, landmarks = module.make_sagittal_phantom()
    table = mrml_scene.AddNewNodeByClass("vtkMRMLTableNode", "vbq")
    rois = mrml_scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", "rois")

    frame = module.VBQScoreLogic().compute(volume, table, landmarksNode=landmarks, caseId="phantom",
                                           roiNode=rois)

    expected = module.PHANTOM_BODY_SIGNAL / module.PHANTOM_CSF_SIGNAL
    score = frame[frame.metric == "vbq"]["value"]
    assert len(score) == 1 and score.iloc[0] == pytest.approx(expected, rel=1e-6)
    assert table.GetNumberOfRows() == len(frame)
    assert table.GetColumnType("value") == VTK_DOUBLE
    import slicer

    roi_array = slicer.util.arrayFromVolume(rois)
    assert roi_array.shape == slicer.util.arrayFromVolume(volume).shape
    assert roi_array.max() > 0
    # The ROI label map shares the image geometry.
    a, b = (np.array([[m.GetElement(r, c) for c in range(4)] for r in range(4)]) for m in
            (_ijk_to_ras(volume), _ijk_to_ras(rois)))
    assert np.allclose(a, b)


def test_vbq_requires_a_volume(mrml_scene, load_module_file):
    module = load_module_file("VBQScore")
    with pytest.raises(ValueError, match="sagittal"):
        module.VBQScoreLogic().compute(None)


def _ijk_to_ras(node):
    import vtk

    matrix = vtk.vtkMatrix4x4()
    node.GetIJKToRASMatrix(matrix)
    return matrix
