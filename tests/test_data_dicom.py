"""DICOM read directly: intensities (Modality LUT, windows, VOI LUT), MONOCHROME1, colour,
compression, frames, rejections with reasons, and pydicom's own example files.

Expected pixels are computed here from the raw stored values and the tags (DICOM PS3.3
C.11.1 and C.11.2), not by the library's functions. The image size equals the files' so no
resizing blurs the comparison: the only step between the expected floats and the cached bytes
is rounding (:func:`assert_rounded` allows a difference only where a value is a tie).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from clinical_files import (
    assert_rounded,
    ct_like,
    dicom_dataset,
    save_dicom,
    write_dicom,
    write_sr,
)
from PIL import Image

pydicom = pytest.importorskip("pydicom")
from config_helpers import data_config, data_files, decode_spec  # noqa: E402
from pydicom.data import get_testdata_file  # noqa: E402
from pydicom.uid import RLELossless  # noqa: E402

from biomedclf.data.cache import load_splits  # noqa: E402
from biomedclf.data.clinical import DicomSpec  # noqa: E402
from biomedclf.data.decode import DecodeError, decode_file, decode_many  # noqa: E402
from biomedclf.data.prepare import prepare_dataset  # noqa: E402


def _prepare(cfg: dict, out: Path) -> dict:
    """prepare_dataset with the ``data:`` section ``cfg`` (validated, as the workflow hands it
    over), writing the layout's files into ``out``."""
    return prepare_dataset(data_config(**cfg), data_files(out))


def dicom_linear(x: np.ndarray, center: float, width: float) -> np.ndarray:
    """PS3.3 C.11.2.1.2.1 (VOI LUT Function LINEAR) with output range 0..255."""
    x = np.asarray(x, dtype=np.float64)
    c, w = center - 0.5, width - 1
    y = ((x - c) / w + 0.5) * 255
    return np.where(x <= c - w / 2, 0.0, np.where(x > c + w / 2, 255.0, y))


def percentile_scaled(x: np.ndarray, low: float = 0.5, high: float = 99.5) -> np.ndarray:
    lo, hi = np.percentile(np.asarray(x, dtype=np.float64), [low, high])
    return np.clip((np.asarray(x, dtype=np.float64) - lo) / (hi - lo) * 255, 0, 255)


def decode(path: Path, size: int, channels: int = 1, **dicom: object) -> np.ndarray:
    """Cache pixels of a DICOM file; non-square images are stretched (resize: squash), as the
    expected values below are computed."""
    spec = decode_spec(image_size=size, channels=channels, resize="squash", dicom=dicom)
    return decode_file(path, spec).pixels


def raw_ct(rng_seed: int = 0, size: int = 16) -> np.ndarray:
    """Stored values 400..700: with slope 2 and intercept -1024 they span -224..376 HU."""
    return np.random.default_rng(rng_seed).integers(400, 701, (size, size)).astype(np.int16)


# --- intensities ------------------------------------------------------------------------------


def test_rescale_then_the_files_window(tmp_path: Path) -> None:
    raw = raw_ct()
    path = write_dicom(
        tmp_path / "w.dcm",
        raw,
        RescaleSlope=2,
        RescaleIntercept=-1024,
        WindowCenter=100,
        WindowWidth=256,
    )
    hu = raw.astype(np.float64) * 2 - 1024
    expected = dicom_linear(hu, 100, 256)  # = hu + 28 inside -28..227 HU: whole numbers
    assert ((expected > 0) & (expected < 255)).any() and (expected == 0).any()
    assert (expected == 255).any()
    assert_rounded(decode(path, 16)[0], expected)


def test_monochrome1_is_inverted_so_bright_is_dense(tmp_path: Path) -> None:
    raw = raw_ct(1)
    tags = dict(RescaleSlope=2, RescaleIntercept=-1024, WindowCenter=100, WindowWidth=256)
    m2 = decode(write_dicom(tmp_path / "m2.dcm", raw, **tags), 16)[0]
    m1 = decode(write_dicom(tmp_path / "m1.dcm", raw, photometric="MONOCHROME1", **tags), 16)[0]
    hu = raw.astype(np.float64) * 2 - 1024
    assert_rounded(m1, 255 - dicom_linear(hu, 100, 256))
    assert np.array_equal(m1.astype(int), 255 - m2.astype(int))


def test_without_window_tags_auto_takes_the_percentile_range(tmp_path: Path) -> None:
    raw = raw_ct(2, 20)
    path = write_dicom(tmp_path / "p.dcm", raw, RescaleSlope=2, RescaleIntercept=-1024)
    assert_rounded(decode(path, 20)[0], percentile_scaled(raw * 2.0 - 1024))


def test_window_none_uses_the_full_rescaled_range(tmp_path: Path) -> None:
    raw = raw_ct(3)
    path = write_dicom(
        tmp_path / "n.dcm",
        raw,
        RescaleSlope=0.5,
        RescaleIntercept=-10,
        WindowCenter=0,
        WindowWidth=10,
    )
    values = raw * 0.5 - 10.0
    expected = (values - values.min()) / (values.max() - values.min()) * 255
    assert_rounded(decode(path, 16, window="none")[0], expected)


def test_a_configured_window_overrides_the_files(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    raw = rng.integers(0, 2000, (16, 16)).astype(np.int16)  # -1024..975 HU
    path = write_dicom(
        tmp_path / "c.dcm",
        raw,
        RescaleSlope=1,
        RescaleIntercept=-1024,
        WindowCenter=40,
        WindowWidth=400,
    )
    got = decode(path, 16, window=(-600, 1500))[0]
    assert_rounded(got, dicom_linear(raw - 1024.0, -600, 1500))


def test_the_linear_window_matches_pydicoms_apply_windowing() -> None:
    from pydicom.dataset import Dataset
    from pydicom.pixels import apply_windowing

    from biomedclf.data.intensity import linear_window

    values = np.random.default_rng(11).integers(-2000, 3000, 5000).astype(np.float64)
    for center, width in ((40, 400), (-600, 1500), (100.5, 1), (0, 2), (1000, 4096)):
        ds = Dataset()
        ds.PhotometricInterpretation, ds.BitsStored, ds.PixelRepresentation = "MONOCHROME2", 8, 0
        ds.WindowCenter, ds.WindowWidth = center, width  # output range 0..255
        assert np.allclose(
            linear_window(values, center, width), apply_windowing(values, ds), atol=1e-9
        ), (center, width)


def test_sigmoid_and_linear_exact_windows_go_through_pydicom(tmp_path: Path) -> None:
    raw = raw_ct(12)
    tags = dict(RescaleSlope=2, RescaleIntercept=-1024, WindowCenter=50, WindowWidth=300)
    hu = raw * 2.0 - 1024
    sigmoid = write_dicom(tmp_path / "s.dcm", raw, VOILUTFunction="SIGMOID", **tags)
    assert_rounded(decode(sigmoid, 16)[0], 255 / (1 + np.exp(-4 * (hu - 50) / 300)))
    exact = write_dicom(tmp_path / "e.dcm", raw, VOILUTFunction="LINEAR_EXACT", **tags)
    expected = np.clip((hu - 50) / 300 + 0.5, 0, 1) * 255
    assert_rounded(decode(exact, 16)[0], np.where(hu > 50 + 150, 255, expected))


def test_voi_lut_sequence_is_applied(tmp_path: Path) -> None:
    from pydicom.dataset import Dataset

    raw = np.random.default_rng(5).integers(0, 300, (16, 16)).astype(np.uint16)
    ds = dicom_dataset(raw, bits_stored=12, WindowCenter=1000, WindowWidth=10)
    item = Dataset()
    item.add_new(0x00283002, "US", [256, 10, 8])  # LUT Descriptor: 256 entries from 10, 8 bits
    lut = (255 - np.arange(256)).astype(np.uint16)
    item.add_new(0x00283006, "US", lut.tolist())  # LUT Data
    ds.VOILUTSequence = [item]
    path = save_dicom(ds, tmp_path / "voi.dcm")
    expected = lut[np.clip(raw.astype(int) - 10, 0, 255)].astype(np.float64)  # 8 bits: as is
    assert_rounded(decode(path, 16)[0], expected)


# --- colour, compression, frames --------------------------------------------------------------


def test_rgb_is_kept_or_converted_like_other_colour_images(tmp_path: Path) -> None:
    rgb = np.random.default_rng(6).integers(0, 256, (12, 12, 3)).astype(np.uint8)
    path = write_dicom(tmp_path / "rgb.dcm", rgb, photometric="RGB")
    assert np.array_equal(decode(path, 12, channels=3), rgb.transpose(2, 0, 1))
    grey = np.asarray(Image.fromarray(rgb).convert("L"))
    assert np.array_equal(decode(path, 12)[0], grey)


def test_rle_compressed_decodes_to_the_same_values(tmp_path: Path) -> None:
    raw = raw_ct(7)
    tags = dict(RescaleSlope=2, RescaleIntercept=-1024, WindowCenter=100, WindowWidth=256)
    plain = write_dicom(tmp_path / "plain.dcm", raw, **tags)
    rle = write_dicom(tmp_path / "rle.dcm", raw, compress=RLELossless, **tags)
    ts = pydicom.dcmread(rle, stop_before_pixels=True).file_meta.TransferSyntaxUID
    assert ts == RLELossless
    assert_rounded(decode(rle, 16)[0], dicom_linear(raw * 2.0 - 1024, 100, 256))
    assert np.array_equal(decode(rle, 16), decode(plain, 16))


def _frames() -> np.ndarray:
    frames = [np.full((8, 8), 100 * (k + 1)) + np.arange(8) for k in range(3)]
    return np.stack(frames).astype(np.int16)


def test_multi_frame_reject_and_middle(tmp_path: Path) -> None:
    frames = _frames()
    path = write_dicom(tmp_path / "mf.dcm", frames, WindowCenter=200, WindowWidth=256)
    with pytest.raises(DecodeError) as info:
        decode(path, 8)
    assert info.value.reason.startswith("multi-frame: 3 frames")
    assert "data.dicom.frames" in info.value.reason
    assert_rounded(decode(path, 8, frames="middle")[0], dicom_linear(frames[1], 200, 256))
    spec = decode_spec(image_size=8, dicom={"frames": "reject"})
    third = decode_file(path, spec, frame=2).pixels[0]  # a named frame, whatever frames says
    assert_rounded(third, dicom_linear(frames[2], 200, 256))
    with pytest.raises(DecodeError, match="frame out of range: frame 4 asked for, the file has 3"):
        decode_file(path, spec, frame=3)


def test_a_multi_frame_file_without_file_meta(tmp_path: Path) -> None:
    frames = _frames()
    ds = dicom_dataset(frames, WindowCenter=200, WindowWidth=256)
    path = save_dicom(ds, tmp_path / "old.dcm", preamble=False)  # no preamble, no file meta
    assert path.read_bytes()[128:132] != b"DICM"
    spec = decode_spec(image_size=8, dicom={"frames": "all"})
    for k in range(3):
        assert_rounded(
            decode_file(path, spec, frame=k).pixels[0], dicom_linear(frames[k], 200, 256)
        )
    assert_rounded(decode(path, 8, frames="middle")[0], dicom_linear(frames[1], 200, 256))


def _two_class_folder(root: Path, n_patients: int = 6, per_patient: int = 2) -> dict[str, str]:
    """root/{normal,opacity}/img*.dcm, patients P00..: returns path -> PatientID."""
    rng = np.random.default_rng(0)
    truth = {}
    for p in range(n_patients * 2):
        cls = ("normal", "opacity")[p % 2]
        for j in range(per_patient):
            rel = f"{cls}/img{p:02d}_{j}.dcm"
            img = ct_like(rng, 8, offset=p) + (200 if cls == "opacity" else 0)
            write_dicom(
                root / rel, img, patient_id=f"P{p:02d}", RescaleSlope=1, RescaleIntercept=-1024
            )
            truth[rel] = f"P{p:02d}"
    return truth


def _manifest(out: Path) -> list[dict[str, str]]:
    with (out / "manifest.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_frames_all_makes_each_frame_an_image_of_the_files_group(tmp_path: Path) -> None:
    root = tmp_path / "data"
    _two_class_folder(root, n_patients=4, per_patient=1)
    frames = _frames()
    write_dicom(
        root / "normal" / "cine.dcm", frames, patient_id="P00", WindowCenter=200, WindowWidth=256
    )
    out = tmp_path / "out"
    cfg = {
        "source": "folder",
        "path": str(root),
        "image_size": 8,
        "dicom": {"frames": "all"},
        "split": {"group": "patient_id", "val": 0.25, "test": 0.25},
    }
    summary = _prepare(cfg, out)
    rows = {r["path"]: r for r in _manifest(out)}
    names = [f"normal/cine.dcm#frame{k}" for k in (1, 2, 3)]
    assert all(n in rows for n in names)
    assert {rows[n]["group"] for n in names} == {"P00"} == {rows["normal/img00_0.dcm"]["group"]}
    assert len({rows[n]["split"] for n in names} | {rows["normal/img00_0.dcm"]["split"]}) == 1
    assert any("gave 3 images" in n for n in summary["notes"])
    split = load_splits(data_files(out))[rows[names[2]]["split"]]
    got = split.images[split.paths.index(names[2])].numpy()[0]
    assert_rounded(got, dicom_linear(frames[2], 200, 256))


def test_manifest_rows_name_frames(tmp_path: Path) -> None:
    root = tmp_path / "m"
    _two_class_folder(root, n_patients=4, per_patient=1)
    write_dicom(root / "cine.dcm", _frames(), patient_id="P99", WindowCenter=200, WindowWidth=256)
    lines = ["path,label"] + [
        f"{p.relative_to(root).as_posix()},{p.parent.name}" for p in sorted(root.rglob("img*.dcm"))
    ]
    lines += ["cine.dcm#frame1,normal", "cine.dcm#frame3,opacity"]
    write_dicom(root / "IM0042", raw_ct(42, 8), patient_id="P42")  # DICOM by its preamble
    lines.append("IM0042,opacity")
    (root / "labels.csv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    cfg = {"source": "manifest", "path": str(root / "labels.csv"), "image_size": 8}
    summary = _prepare(cfg, out)
    rows = {r["path"]: r for r in _manifest(out)}
    assert rows["cine.dcm#frame1"]["class_name"] == "normal"
    assert rows["cine.dcm#frame3"]["class_name"] == "opacity"
    assert rows["IM0042"]["class_name"] == "opacity"
    assert summary["rejected"] == 0 and summary["formats"] == {"dicom": 11}


# --- patient groups ---------------------------------------------------------------------------


def test_patient_id_groups_without_a_file_name_pattern(tmp_path: Path) -> None:
    root = tmp_path / "data"
    truth = _two_class_folder(root, n_patients=6, per_patient=3)
    out = tmp_path / "out"
    cfg = {
        "source": "folder",
        "path": str(root),
        "image_size": 8,
        "split": {"group": "patient_id", "seed": 1},
    }
    summary = _prepare(cfg, out)
    rows = _manifest(out)
    assert len(rows) == len(truth)
    splits_of: dict[str, set[str]] = {}
    for r in rows:
        assert r["group"] == truth[r["path"]]
        splits_of.setdefault(r["group"], set()).add(r["split"])
    assert all(len(s) == 1 for s in splits_of.values()), splits_of
    assert {s for v in splits_of.values() for s in v} == {"train", "val", "test"}
    assert summary["split"]["group"] == "patient_id"
    assert summary["groups"]["user_groups"] == 12
    assert summary["formats"] == {"dicom": len(truth)}
    # nothing but paths and the group key leaves the files: no names, no birth dates
    for f in out.iterdir():
        if f.suffix in (".csv", ".json"):
            text = f.read_text()
            assert "Doe" not in text and "19700101" not in text, f.name


def test_headers_are_read_only_when_the_config_needs_them(tmp_path: Path, monkeypatch) -> None:
    import biomedclf.data.dicom as dicom

    root = tmp_path / "data"
    _two_class_folder(root, n_patients=4, per_patient=1)

    def boom(*_a: object, **_k: object) -> None:
        raise AssertionError("headers read")

    monkeypatch.setattr(dicom, "read_headers", boom)
    _prepare({"source": "folder", "path": str(root), "image_size": 8}, tmp_path / "o")


# --- rejections -------------------------------------------------------------------------------


def test_bad_dicom_files_are_rejected_with_their_reasons(tmp_path: Path) -> None:
    root = tmp_path / "data"
    _two_class_folder(root, n_patients=4, per_patient=1)
    write_sr(root / "normal" / "report.dcm")
    good = (root / "normal" / "img00_0.dcm").read_bytes()
    (root / "normal" / "cut.dcm").write_bytes(good[: len(good) - 40])
    (root / "normal" / "text.dcm").write_text("not DICOM at all")
    write_dicom(root / "opacity" / "cine.dcm", _frames())
    (root / "opacity" / "notes").write_text("no extension, no preamble")
    out = tmp_path / "out"
    summary = _prepare({"source": "folder", "path": str(root), "image_size": 8}, out)
    with (out / "rejected.csv").open(newline="") as fh:
        reasons = {r["path"]: r["reason"] for r in csv.DictReader(fh)}
    assert reasons["normal/report.dcm"].startswith("no pixel data: a DICOM Basic Text SR")
    assert reasons["normal/cut.dcm"].startswith("truncated: pixel data ends after")
    assert reasons["normal/text.dcm"].startswith(("not an image", "unreadable"))
    assert reasons["opacity/cine.dcm"].startswith("multi-frame: 3 frames")
    assert reasons["opacity/notes"].startswith("not an image: no extension")
    assert summary["n_files"] == len(reasons) + summary["n_images"]


def test_files_without_extension_are_dicom_by_their_preamble(tmp_path: Path) -> None:
    from biomedclf.data.classes import source_classes

    root = tmp_path / "data"
    rng = np.random.default_rng(9)
    for i in range(8):
        cls = ("a", "b")[i % 2]
        write_dicom(root / cls / f"1.2.826.0.{i}", ct_like(rng, 8, i), patient_id=f"P{i}")
        write_dicom(root / cls / f"IM{i:04d}", ct_like(rng, 8, i + 1), patient_id=f"P{i}")
    cfg = {"source": "folder", "path": str(root), "image_size": 8}
    assert source_classes(data_config(**cfg)) == ["a", "b"]  # folders of DICOM only are valid
    summary = _prepare(cfg, tmp_path / "out")
    assert summary["n_images"] == 16 and summary["rejected"] == 0


def test_an_undecodable_transfer_syntax_is_named_with_its_package(
    tmp_path: Path, monkeypatch
) -> None:
    from pydicom.encaps import encapsulate
    from pydicom.uid import MPEG2MPML, JPEG2000Lossless

    ds = dicom_dataset(raw_ct(8))
    ds.file_meta.TransferSyntaxUID = MPEG2MPML
    ds.PixelData = encapsulate([b"\x00\x00\x01\xb3" + bytes(60)])
    ds["PixelData"].VR = "OB"
    path = tmp_path / "video.dcm"
    ds.save_as(path, enforce_file_format=True)
    with pytest.raises(DecodeError) as info:
        decode(path, 16)
    assert info.value.reason.startswith("cannot decode: transfer syntax MPEG2 Main Profile")

    class Unavailable:
        is_available = False
        missing_dependencies = ["pylibjpeg - requires pylibjpeg>=2.0 and pylibjpeg-openjpeg>=2.0"]

    j2k = get_testdata_file("MR_small_jp2klossless.dcm")
    monkeypatch.setattr("pydicom.pixels.get_decoder", lambda uid: Unavailable())
    with pytest.raises(DecodeError) as info:
        decode(Path(j2k), 64)
    reason = info.value.reason
    assert reason.startswith("cannot decode: transfer syntax JPEG 2000")
    assert str(JPEG2000Lossless) in reason and "pylibjpeg-openjpeg" in reason


def test_a_window_narrower_than_1_names_the_key() -> None:
    # the other data.dicom values are the schema's to check (tests/test_config.py)
    with pytest.raises(ValueError, match=r"data\.dicom\.window: width 0\.5 is below 1"):
        DicomSpec(window=[40, 0.5], frames="reject")
    assert DicomSpec(window=[40, 80], frames="reject").window == (40.0, 80.0)


# --- pydicom's example files ------------------------------------------------------------------


def _example(name: str) -> Path:
    path = get_testdata_file(name, download=False)
    if path is None:
        pytest.skip(f"pydicom example {name} not available")
    return Path(path)


def test_pydicom_ct_example_rescaled_then_percentile_window() -> None:
    path = _example("CT_small.dcm")
    ds = pydicom.dcmread(path)
    assert "WindowCenter" not in ds
    hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    assert_rounded(decode(path, 128)[0], percentile_scaled(hu))


def test_pydicom_mr_examples_windowed_alike_in_every_encoding() -> None:
    path = _example("MR_small.dcm")
    ds = pydicom.dcmread(path)
    expected = dicom_linear(ds.pixel_array, float(ds.WindowCenter), float(ds.WindowWidth))
    reference = decode(path, 64)
    assert_rounded(reference[0], expected)
    for name in (
        "MR_small_bigendian.dcm",
        "MR_small_implicit.dcm",
        "MR_small_RLE.dcm",
        "MR_small_jp2klossless.dcm",
        "MR_small_jpeg_ls_lossless.dcm",
    ):
        assert np.array_equal(decode(_example(name), 64), reference), name
    assert_rounded(decode(path, 64, window="none")[0], percentile_scaled(ds.pixel_array, 0, 100))


def test_pydicom_jpeg_examples() -> None:
    rgb_path = _example("SC_rgb_jpeg_dcmtk.dcm")  # JPEG baseline, YBR_FULL -> RGB
    rgb = pydicom.dcmread(rgb_path).pixel_array
    assert pydicom.dcmread(rgb_path).PhotometricInterpretation == "YBR_FULL"
    assert np.array_equal(decode(rgb_path, 100, channels=3), rgb.transpose(2, 0, 1))
    # its bands: red, pink, green, light green, blue, light blue, black, greys, white (+-2 JPEG)
    bands = {5: (255, 0, 0), 25: (0, 255, 0), 45: (0, 0, 255), 65: (0, 0, 0), 95: (255, 255, 255)}
    got = decode(rgb_path, 100, channels=3)
    for row, colour in bands.items():
        assert np.abs(got[:, row, 50].astype(int) - colour).max() <= 5, row
    ext = _example("JPGExtended.dcm")  # 12-bit JPEG extended, 1024 x 256, no window tags
    values = pydicom.dcmread(ext).pixel_array.astype(np.float64)
    scaled = (values - values.min()) / (values.max() - values.min()) * 255
    resized = Image.fromarray(scaled.astype(np.float32)).resize((64, 64), Image.Resampling.BICUBIC)
    assert_rounded(decode(ext, 64, window="none")[0], np.asarray(resized))


def test_pydicom_damaged_and_imageless_examples() -> None:
    cases = {
        "MR_truncated.dcm": "truncated: pixel data ends after 8130 of its 8192 bytes",
        "rtplan.dcm": "no pixel data: a DICOM RT Plan Storage",
        "test-SR.dcm": "no pixel data: a DICOM Comprehensive SR Storage",
        "SC_rgb_rle_2frame.dcm": "multi-frame: 2 frames",
        "DICOMDIR": "no pixel data: a DICOM Media Storage Directory Storage",
    }
    for name, reason in cases.items():
        with pytest.raises(DecodeError) as info:
            decode(_example(name), 16)
        assert info.value.reason.startswith(reason), (name, info.value.reason)
    from biomedclf.data.sources.formats import file_kind

    assert file_kind(_example("DICOMDIR")) == "dicom"  # no extension: found by its preamble
    lossy = _example("JPEG-lossy.dcm")  # a known-bad JPEG stream libjpeg refuses
    try:
        decode(lossy, 16)
    except DecodeError as exc:
        assert exc.reason.startswith("cannot decode: JPEG Extended (Process 2 and 4)")
        assert "1.2.840.10008.1.2.4.51" in exc.reason and "gdcm" in exc.reason


# --- threads ----------------------------------------------------------------------------------


def test_threads_give_the_pixels_one_thread_gives(tmp_path: Path) -> None:
    names = [
        "CT_small.dcm",
        "MR_small.dcm",
        "MR_small_RLE.dcm",
        "MR_small_jp2klossless.dcm",
        "MR_small_jpeg_ls_lossless.dcm",
        "SC_rgb_jpeg_dcmtk.dcm",
        "JPGExtended.dcm",
        "SC_rgb_rle_16bit.dcm",
        "JPEG2000.dcm",
        "examples_palette.dcm",
        "MR_truncated.dcm",
    ]
    paths = [_example(n) for n in names] * 4
    paths += [
        write_dicom(
            tmp_path / f"{i}.dcm",
            raw_ct(i),
            compress=RLELossless,
            RescaleSlope=2,
            RescaleIntercept=-1024,
        )
        for i in range(8)
    ]
    spec = decode_spec(image_size=24, channels=3, dicom={"frames": "middle"})
    one = decode_many(paths, spec, threads=1)
    for threads in (2, 4):
        many = decode_many(paths, spec, threads=threads)
        for a, b, p in zip(one, many, paths):
            if isinstance(a, DecodeError):
                assert isinstance(b, DecodeError) and a.reason == b.reason, p
            else:
                assert not isinstance(b, DecodeError) and a.sha256 == b.sha256, p
    assert sum(isinstance(r, DecodeError) for r in one) == 4  # MR_truncated, 4 times


def test_summary_counts_formats(tmp_path: Path) -> None:
    root = tmp_path / "data"
    _two_class_folder(root, n_patients=4, per_patient=1)
    for i in range(4):
        arr = np.random.default_rng(i).integers(0, 256, (8, 8), dtype=np.uint8)
        Image.fromarray(arr).save(root / ("normal", "opacity")[i % 2] / f"x{i}.png")
    out = tmp_path / "out"
    _prepare({"source": "folder", "path": str(root), "image_size": 8}, out)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["formats"] == {"dicom": 8, "image": 4}
    assert summary["dicom"] == {"window": "auto", "frames": "reject"}
