"""Image IO: geometry kept, planes recognised from direction cosines, bad inputs named."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from spinequant.errors import InputError
from spinequant.imageio import Volume, read_volume, write_volume

SAGITTAL_DIRECTION = np.array([[0, 0, 1], [0, 1, 0], [-1, 0, 0]], float)  # i inferior, j posterior, k left


def _volume(direction=None, shape=(6, 20, 30), spacing=(0.8, 0.9, 4.0)):
    direction = np.eye(3) if direction is None else direction
    array = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    return Volume(array, spacing, (10.0, -20.0, 5.0), direction)


@pytest.mark.parametrize("suffix", [".nii.gz", ".nrrd", ".mha"])
def test_round_trip_keeps_geometry(tmp_path, suffix):
    oblique = sitk.VersorTransform((0.1, 0.2, 0.05), 0.3).GetMatrix()
    volume = _volume(np.array(oblique).reshape(3, 3))
    path = tmp_path / f"v{suffix}"
    write_volume(volume, str(path))
    again = read_volume(str(path))
    assert np.array_equal(again.array, volume.array)
    assert np.allclose(again.spacing, volume.spacing)
    assert np.allclose(again.origin, volume.origin, atol=1e-4)
    assert np.allclose(again.direction, volume.direction, atol=1e-5)
    assert np.allclose(again.ijk_to_lps(), volume.ijk_to_lps(), atol=1e-4)


def test_plane_comes_from_direction_cosines_not_array_order():
    assert _volume().slice_plane() == "axial"
    assert _volume(SAGITTAL_DIRECTION).slice_plane() == "sagittal"
    coronal = np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]], float)
    assert _volume(coronal).slice_plane() == "coronal"
    tilted = sitk.VersorTransform((1, 0, 0), np.deg2rad(20)).GetMatrix()
    assert _volume(np.array(tilted).reshape(3, 3)).slice_plane() == "axial"


def test_sagittal_file_refused_where_axial_is_needed(tmp_path):
    path = tmp_path / "sag.nii.gz"
    write_volume(_volume(SAGITTAL_DIRECTION), str(path))
    with pytest.raises(InputError, match=r"sag\.nii\.gz.*sagittal slices.*axial slices are needed"):
        read_volume(str(path), plane="axial")


def test_2d_image_refused(tmp_path):
    path = tmp_path / "slice.nii.gz"
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((20, 20), np.float32)), str(path))
    with pytest.raises(InputError, match=r"slice\.nii\.gz.*2D image"):
        read_volume(str(path))


def test_4d_image_refused(tmp_path):
    path = tmp_path / "echoes.nii.gz"
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((3, 4, 10, 10), np.float32), isVector=False), str(path))
    with pytest.raises(InputError, match=r"echoes\.nii\.gz.*4D image \(3 time points"):
        read_volume(str(path))


def test_nan_voxels_refused(tmp_path):
    volume = _volume()
    volume.array[2, 3, 4] = np.nan
    path = tmp_path / "nan.nrrd"  # ITK reads NaN in NIfTI as 0, NRRD keeps it
    write_volume(volume, str(path))
    with pytest.raises(InputError, match=r"nan\.nrrd.*1 NaN or infinite"):
        read_volume(str(path))


def test_unreadable_and_missing_files(tmp_path):
    broken = tmp_path / "broken.nii.gz"
    broken.write_bytes(b"not an image at all")
    with pytest.raises(InputError, match=r"broken\.nii\.gz: cannot read the image"):
        read_volume(str(broken))
    with pytest.raises(InputError, match="not found"):
        read_volume(str(tmp_path / "missing.nrrd"))
    empty_folder = tmp_path / "dicom"
    empty_folder.mkdir()
    (empty_folder / "junk.dcm").write_bytes(b"\x00" * 300)
    with pytest.raises(InputError, match="no readable DICOM series"):
        read_volume(str(empty_folder))


def test_dicom_series_folder_read_with_geometry(tmp_path):
    volume = _volume(shape=(4, 16, 12), spacing=(0.7, 0.7, 5.0))
    volume.array = (volume.array % 500).astype(np.int16)
    image = volume.to_sitk()
    folder = tmp_path / "series"
    folder.mkdir()
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    for k in range(image.GetDepth()):
        piece = image[:, :, k]
        origin = image.TransformIndexToPhysicalPoint((0, 0, k))
        for key, value in {
            "0008|0060": "MR", "0020|000d": "1.2.3", "0020|000e": "1.2.3.4",
            "0020|0032": "\\".join(f"{c:f}" for c in origin),
            "0020|0037": "\\".join(f"{c:f}" for c in (1, 0, 0, 0, 1, 0)),
            "0020|0013": str(k + 1), "0018|0050": "5.0", "0018|0087": "3",
        }.items():
            piece.SetMetaData(key, value)
        writer.SetFileName(str(folder / f"slice{k:03d}.dcm"))
        writer.Execute(piece)
    again = read_volume(str(folder), plane="axial")
    assert again.array.shape == volume.array.shape
    assert np.array_equal(again.array, volume.array)
    assert np.allclose(again.spacing, volume.spacing, atol=1e-3)
    assert np.allclose(again.origin, volume.origin, atol=1e-3)
    assert again.metadata.get("0018|0087", "").strip() == "3"
