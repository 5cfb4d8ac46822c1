"""NIfTI volumes read directly as 2D images: middle slice, an index, MIP, along each axis,
percentile clipping, scaling (scl_slope), 2-D files, and rejections with reasons.

Expected pixels are computed here from the volume written: the plane numpy picks, turned with
``np.rot90`` (as ``imshow(plane.T, origin="lower")`` shows it), clipped to its percentiles and
scaled to 0..255, then rounded (:func:`assert_rounded` allows a difference only at ties).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from clinical_files import assert_rounded, write_nifti
from PIL import Image

pytest.importorskip("nibabel")

from config_helpers import data_config, data_files, decode_spec  # noqa: E402

from biomedclf.data.clinical import NiftiSpec  # noqa: E402
from biomedclf.data.decode import DecodeError, decode_file  # noqa: E402
from biomedclf.data.prepare import prepare_dataset  # noqa: E402


def expected_plane(plane: np.ndarray, clip: tuple[float, float] = (0.5, 99.5)) -> np.ndarray:
    plane = np.asarray(plane, dtype=np.float64)
    lo, hi = np.percentile(plane[np.isfinite(plane)], clip)
    out = np.clip((plane - lo) / (hi - lo) * 255, 0, 255)
    return np.rot90(np.where(np.isfinite(out), out, 0))


def decode(path: Path, size: int, **nifti: object) -> np.ndarray:
    return decode_file(path, decode_spec(image_size=size, nifti=nifti)).pixels[0]


def volume(shape: tuple[int, int, int] = (12, 12, 7), seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(100, 30, shape).astype(np.float32)


def test_middle_slice_along_the_default_axis(tmp_path: Path) -> None:
    vol = volume()
    path = write_nifti(tmp_path / "v.nii", vol)
    assert_rounded(decode(path, 12), expected_plane(vol[:, :, 3]))
    assert np.array_equal(decode(write_nifti(tmp_path / "v.nii.gz", vol), 12), decode(path, 12))


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_index_and_mip_along_each_axis(tmp_path: Path, axis: int) -> None:
    vol = volume((12, 12, 12), seed=axis)
    path = write_nifti(tmp_path / "v.nii.gz", vol)
    picked = np.take(vol, 4, axis=axis)
    assert_rounded(decode(path, 12, slice=4, axis=axis), expected_plane(picked))
    mip = vol.max(axis=axis)
    assert_rounded(decode(path, 12, slice="mip", axis=axis), expected_plane(mip))
    full = expected_plane(picked, (0, 100))
    assert_rounded(decode(path, 12, slice=4, axis=axis, clip=(0, 100)), full)


def test_percentile_clipping_tames_outliers(tmp_path: Path) -> None:
    vol = volume((40, 40, 3), seed=5)
    vol[2, 3, 1] = 1e6  # one hot voxel of 1,600
    path = write_nifti(tmp_path / "hot.nii", vol)
    got = decode(path, 40)
    assert_rounded(got, expected_plane(vol[:, :, 1]))
    assert 50 < got.mean() < 200  # not all black beside one white voxel


def test_scaling_of_the_file_is_applied(tmp_path: Path) -> None:
    raw = np.random.default_rng(3).integers(0, 1000, (10, 10, 3)).astype(np.int16)
    plain = decode(write_nifti(tmp_path / "a.nii", raw), 10)
    inverted = decode(write_nifti(tmp_path / "b.nii", raw, slope=-2.0, inter=5.0), 10)
    assert_rounded(inverted, expected_plane(raw[:, :, 1] * -2.0 + 5.0))
    assert np.abs(inverted.astype(int) + plain.astype(int) - 255).max() <= 1


def test_two_dimensional_files_are_read_as_they_are(tmp_path: Path) -> None:
    img = volume((9, 11, 1), seed=7)
    expected = expected_plane(img[:, :, 0])
    flat = write_nifti(tmp_path / "flat.nii", img[:, :, 0])
    thin = write_nifti(tmp_path / "thin.nii", img)
    # slice is ignored for 2-D files; the 9 x 11 plane is stretched to 11 x 11 (squash)
    spec = decode_spec(image_size=11, resize="squash", nifti={"slice": 5, "axis": 0})
    for path in (flat, thin):
        got = decode_file(path, spec).pixels[0]
        resized = Image.fromarray(expected.astype(np.float32)).resize(
            (11, 11), Image.Resampling.BICUBIC
        )
        assert_rounded(got, np.asarray(resized))


def test_nan_voxels_become_zero(tmp_path: Path) -> None:
    vol = volume((8, 8, 3), seed=8)
    vol[:, :2, 1] = np.nan
    got = decode(write_nifti(tmp_path / "nan.nii", vol), 8)
    assert_rounded(got, expected_plane(vol[:, :, 1]))
    assert (np.rot90(np.isnan(vol[:, :, 1])) <= (got == 0)).all()


def test_bad_volumes_are_rejected_with_their_reasons(tmp_path: Path) -> None:
    path = write_nifti(tmp_path / "v.nii", volume((12, 12, 7)))
    with pytest.raises(DecodeError) as info:
        decode(path, 12, slice=7)
    reason = info.value.reason
    assert reason.startswith("slice out of range: data.nifti.slice 7 along data.nifti.axis 2")
    assert "(12, 12, 7)" in reason and "0..6" in reason
    four = write_nifti(tmp_path / "t.nii", np.zeros((4, 4, 3, 2), np.float32))
    data = path.read_bytes()
    (tmp_path / "cut.nii").write_bytes(data[: len(data) - 100])
    gz = write_nifti(tmp_path / "v.nii.gz", volume((30, 30, 30)))
    (tmp_path / "cut.nii.gz").write_bytes(gz.read_bytes()[: gz.stat().st_size // 2])
    (tmp_path / "junk.nii").write_bytes(b"junk" * 100)
    expected = {
        four: "unreadable: a 4-D NIfTI",
        tmp_path / "cut.nii": "truncated",
        tmp_path / "cut.nii.gz": "truncated",
        tmp_path / "junk.nii": "not an image",
    }
    for bad, kind in expected.items():
        with pytest.raises(DecodeError) as info:
            decode(bad, 8)
        assert info.value.reason.startswith(kind), (bad.name, info.value.reason)


def test_clip_percentiles_out_of_order_name_the_key() -> None:
    # the other data.nifti values are the schema's to check (tests/test_config.py)
    with pytest.raises(ValueError, match=r"data\.nifti\.clip: \[99, 1\]; .* low < high"):
        NiftiSpec(slice="middle", axis=2, clip=(99, 1))
    assert NiftiSpec(slice="mip", axis=0, clip=[1, 99]).clip == (1.0, 99.0)


def test_a_folder_of_nifti_and_png_is_prepared(tmp_path: Path) -> None:
    from biomedclf.data.classes import source_classes

    root = tmp_path / "data"
    for i in range(8):
        cls = ("ct", "mr")[i % 2]
        write_nifti(root / cls / f"vol{i}.nii.gz", volume((8, 8, 5), seed=i) + 50 * (i % 2))
    cfg = data_config(source="folder", path=str(root), image_size=8, nifti={"slice": "mip"})
    assert source_classes(cfg) == ["ct", "mr"]  # class folders holding only NIfTI are valid
    for i in range(4):
        arr = np.random.default_rng(100 + i).integers(0, 256, (8, 8), dtype=np.uint8)
        Image.fromarray(arr).save(root / ("ct", "mr")[i % 2] / f"slice{i}.png")
    out = tmp_path / "out"
    summary = prepare_dataset(cfg, data_files(out))
    assert summary["formats"] == {"image": 4, "nifti": 8}
    assert summary["n_images"] == 12 and summary["rejected"] == 0
    assert summary["nifti"] == {"slice": "mip", "axis": 2, "clip": [0.5, 99.5]}
    with (out / "manifest.csv").open(newline="") as fh:
        paths = {r["path"] for r in csv.DictReader(fh)}
    assert "ct/vol0.nii.gz" in paths and "ct/slice0.png" in paths
