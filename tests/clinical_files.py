"""Small DICOM and NIfTI files with known contents, written with pydicom and nibabel.

Shared by tests/test_data_dicom.py, test_data_nifti.py, test_workflow_clinical.py and the DICOM
benchmark (tests/benchmarks/dicom_preparation.py), with :func:`assert_rounded`, the comparison
of cached pixels with the floats a test expects.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def dicom_dataset(
    pixels: np.ndarray,
    *,
    photometric: str = "MONOCHROME2",
    bits_stored: int | None = None,
    patient_id: str | None = "P001",
    **tags: Any,
) -> Any:
    """A CT image dataset holding ``pixels`` (rows x cols, frames x rows x cols, or x 3 for
    colour) with PatientID ``patient_id`` and any further ``tags`` (keyword=value)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, generate_uid

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.SOPClassUID = tags.pop("SOPClassUID", CTImageStorage)
    ds.SOPInstanceUID = generate_uid(entropy_srcs=[str(pixels.tobytes()), str(patient_id)])
    ds.Modality = "CT"
    if patient_id is not None:
        ds.PatientID = patient_id
    ds.PatientName = "Doe^Jane"  # must never reach an output
    ds.PatientBirthDate = "19700101"
    bits = bits_stored or (8 if pixels.dtype == np.uint8 else 16)
    ds.set_pixel_data(np.ascontiguousarray(pixels), photometric, bits)
    for key, value in tags.items():
        setattr(ds, key, value)
    return ds


def save_dicom(ds: Any, path: Path, *, compress: str | None = None, preamble: bool = True) -> Path:
    """Write ``ds`` to ``path`` (compressed with the transfer syntax ``compress``, e.g. RLE
    Lossless, when given; without the 128-byte preamble and file meta when not ``preamble``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if compress is not None:
        ds.compress(compress)
    if preamble:
        ds.save_as(path, enforce_file_format=True)
    else:  # the dataset alone, implicit VR little endian, as old files were written
        from pydicom.dataset import FileMetaDataset

        ds.file_meta = FileMetaDataset()
        ds.save_as(path, implicit_vr=True, little_endian=True)
    return path


def write_dicom(path: Path, pixels: np.ndarray, *, compress: str | None = None, **kw: Any) -> Path:
    """:func:`dicom_dataset` of ``pixels`` saved to ``path``."""
    return save_dicom(dicom_dataset(pixels, **kw), path, compress=compress)


def write_sr(path: Path, patient_id: str = "P001") -> Path:
    """A DICOM Basic Text SR (a report: tags, no pixel data)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import BasicTextSRStorage, ExplicitVRLittleEndian, generate_uid

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = BasicTextSRStorage
    ds.SOPInstanceUID = generate_uid()
    ds.Modality = "SR"
    ds.PatientID = patient_id
    return save_dicom(ds, path)


def write_nifti(
    path: Path, volume: np.ndarray, *, slope: float | None = None, inter: float = 0.0
) -> Path:
    """A NIfTI-1 file of ``volume`` (``.nii`` or ``.nii.gz`` by the name), identity affine;
    ``slope`` and ``inter`` set scl_slope / scl_inter."""
    import nibabel as nib

    path.parent.mkdir(parents=True, exist_ok=True)
    img = nib.Nifti1Image(np.asarray(volume), np.eye(4))
    if slope is not None:
        img.header.set_slope_inter(slope, inter)
    nib.save(img, str(path))
    return path


def ct_like(rng: np.random.Generator, size: int, offset: int = 0) -> np.ndarray:
    """A size x size int16 image of stored values for CT (RescaleIntercept -1024): a body disc
    around 1000 (water), air around 0, a denser blob, and noise."""
    yy, xx = np.mgrid[:size, :size] / max(size - 1, 1) - 0.5
    img = np.where(xx**2 + yy**2 < 0.16, 1000.0, 24.0)
    blob = ((xx - 0.1 - 0.05 * (offset % 3)) ** 2 + (yy + 0.1) ** 2) < 0.01
    img = img + 400.0 * blob + rng.normal(0, 20, (size, size))
    return np.clip(img, 0, 4095).astype(np.int16)


def assert_rounded(got: np.ndarray, expected: np.ndarray) -> None:
    """``got`` (uint8) is ``expected`` (floats on 0..255) rounded; a difference of one is
    allowed only where ``expected`` lies within 1e-4 of a .5 tie (the library computes in
    float32, which resolves 0..255 to about 1e-5)."""
    got = np.asarray(got, dtype=np.float64)
    expected = np.clip(np.asarray(expected, dtype=np.float64), 0, 255)
    assert got.shape == expected.shape
    off = got != np.rint(expected)
    tie = np.abs(np.abs(expected - np.floor(expected)) - 0.5) < 1e-4
    assert not (off & ~tie).any(), (got[off & ~tie][:5], expected[off & ~tie][:5])
    assert np.abs(got - expected).max() <= 0.5 + 1e-4
