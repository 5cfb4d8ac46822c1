"""Decoding: modes, bit depths, channels, resizing and the reasons bad files are rejected."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from config_helpers import decode_spec
from PIL import Image

from biomedclf.data.decode import (
    DecodeError,
    decode_array,
    decode_file,
    decode_into,
    decode_many,
    decode_pil,
    pixel_sha256,
)

#: data.resize: how a non-square image becomes square.
MODES = ("pad", "crop", "squash")


def _save(path: Path, arr: np.ndarray) -> Path:
    Image.fromarray(arr).save(path)
    return path


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16bit_scaled_by_full_range(tmp_path: Path, suffix: str) -> None:
    arr = np.zeros((8, 8), dtype=np.uint16)
    arr[:4] = 65535
    arr[4:] = 32768
    path = _save(tmp_path / f"a{suffix}", arr)
    with Image.open(path) as img:
        assert img.mode.startswith("I")
    out = decode_file(path, decode_spec(image_size=8)).pixels
    assert out.shape == (1, 8, 8) and out.dtype == np.uint8
    assert (out[0, :4] == 255).all()
    assert (out[0, 4:] == 128).all()  # 32768 * 255 / 65535 = 127.5 -> 128, not clipped to 255


def test_16bit_low_values_are_not_stretched(tmp_path: Path) -> None:
    arr = np.full((8, 8), 1000, dtype=np.uint16)  # a dark 16-bit image stays dark
    out = decode_file(_save(tmp_path / "d.png", arr), decode_spec(image_size=8)).pixels
    assert (out == 4).all()  # 1000 * 255 / 65535 = 3.9


def test_rgba_composited_over_black(tmp_path: Path) -> None:
    arr = np.zeros((8, 8, 4), dtype=np.uint8)
    arr[..., 0] = 200
    arr[..., 3] = 128  # half transparent red
    path = _save(tmp_path / "a.png", arr)
    rgb = decode_file(path, decode_spec(image_size=8, channels=3)).pixels
    assert rgb.shape == (3, 8, 8)
    assert tuple(rgb[:, 0, 0]) == (100, 0, 0)
    gray = decode_file(path, decode_spec(image_size=8, channels=1)).pixels
    assert gray.shape == (1, 8, 8)
    assert gray[0, 0, 0] == round(100 * 0.299)


def test_opaque_rgba_equals_rgb(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (10, 12, 3), dtype=np.uint8)
    rgba = np.concatenate([rgb, np.full((10, 12, 1), 255, np.uint8)], axis=2)
    spec = decode_spec(image_size=8, channels=3)
    a = decode_file(_save(tmp_path / "rgb.png", rgb), spec)
    b = decode_file(_save(tmp_path / "rgba.png", rgba), spec)
    assert np.array_equal(a.pixels, b.pixels) and a.sha256 == b.sha256


def test_palette_gray_to_three_channels_and_resize(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    gray = rng.integers(0, 256, (20, 30), dtype=np.uint8)
    Image.fromarray(gray).convert("P").save(tmp_path / "p.png")
    out = decode_file(tmp_path / "p.png", decode_spec(image_size=16, channels=3)).pixels
    assert out.shape == (3, 16, 16)
    assert np.array_equal(out[0], out[1]) and np.array_equal(out[1], out[2])
    rgb_spec = decode_spec(image_size=16, channels=3)
    one = decode_file(_save(tmp_path / "g.png", gray), rgb_spec).pixels
    assert out.shape == one.shape


def test_resize_matches_pillow_bicubic(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    gray = rng.integers(0, 256, (40, 40), dtype=np.uint8)
    path = _save(tmp_path / "g.png", gray)
    out = decode_file(path, decode_spec(image_size=10)).pixels[0]
    ref = np.asarray(Image.fromarray(gray).resize((10, 10), Image.Resampling.BICUBIC))
    assert np.array_equal(out, ref)
    near = decode_file(path, decode_spec(image_size=10, interpolation="nearest")).pixels[0]
    assert not np.array_equal(near, out)


def test_jpeg_and_bmp(tmp_path: Path) -> None:
    gray = np.tile(np.arange(32, dtype=np.uint8) * 8, (32, 1))
    Image.fromarray(gray).save(tmp_path / "a.jpg", quality=95)
    Image.fromarray(gray).save(tmp_path / "a.bmp")
    for name in ("a.jpg", "a.bmp"):
        assert decode_file(tmp_path / name, decode_spec(image_size=16)).pixels.shape == (1, 16, 16)


def test_bad_files_have_reasons(tmp_path: Path) -> None:
    spec = decode_spec(image_size=16)
    (tmp_path / "zero.png").write_bytes(b"")
    (tmp_path / "text.png").write_text("not an image at all")
    good = _save(
        tmp_path / "good.png", np.random.default_rng(3).integers(0, 256, (64, 64), dtype=np.uint8)
    )
    data = good.read_bytes()
    (tmp_path / "trunc.png").write_bytes(data[: len(data) // 2])
    expected = {"zero.png": "zero bytes", "text.png": "not an image", "trunc.png": "truncated"}
    for name, kind in expected.items():
        with pytest.raises(DecodeError) as info:
            decode_file(tmp_path / name, spec)
        assert info.value.reason.startswith(kind), info.value.reason


def test_decode_many_keeps_order_and_returns_errors(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    paths = []
    for i in range(6):
        paths.append(_save(tmp_path / f"{i}.png", rng.integers(0, 256, (12, 12), dtype=np.uint8)))
    (tmp_path / "bad.png").write_bytes(b"")
    paths.insert(3, tmp_path / "bad.png")
    one = decode_many(paths, decode_spec(image_size=8), threads=1)
    two = decode_many(paths, decode_spec(image_size=8), threads=3)
    assert isinstance(one[3], DecodeError) and isinstance(two[3], DecodeError)
    for a, b in zip(one, two):
        if not isinstance(a, DecodeError):
            assert not isinstance(b, DecodeError)
            assert a.sha256 == b.sha256


@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("channels", [1, 3])
def test_decode_into_rows_equal_decode_file(tmp_path: Path, threads: int, channels: int) -> None:
    rng = np.random.default_rng(5)
    paths = [
        _save(tmp_path / "gray.png", rng.integers(0, 256, (20, 14), dtype=np.uint8)),
        _save(tmp_path / "rgb.jpg", rng.integers(0, 256, (9, 30, 3), dtype=np.uint8)),
        _save(tmp_path / "deep.tif", rng.integers(0, 65536, (16, 16), dtype=np.uint16)),
        tmp_path / "bad.png",
        _save(tmp_path / "rgba.png", rng.integers(0, 256, (12, 12, 4), dtype=np.uint8)),
    ]
    paths[3].write_bytes(b"")
    spec = decode_spec(image_size=10, channels=channels, interpolation="bilinear")
    out = np.full((len(paths), channels, 10, 10), 7, dtype=np.uint8)
    hashes = decode_into(paths, spec, out, threads=threads)
    for i, path in enumerate(paths):
        if path.name == "bad.png":
            assert isinstance(hashes[i], DecodeError) and hashes[i].reason == "zero bytes"
            assert (out[i] == 7).all()  # a failed row is left as it was
            continue
        expected = decode_file(path, spec)
        assert np.array_equal(out[i], expected.pixels), path.name
        assert hashes[i].sha256 == expected.sha256 == pixel_sha256(out[i])
        assert hashes[i].square == expected.square


def test_decode_into_checks_the_buffer(tmp_path: Path) -> None:
    path = _save(tmp_path / "a.png", np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match=r"decode buffer: need uint8 \(1, 1, 8, 8\)"):
        decode_into([path], decode_spec(image_size=8), np.zeros((1, 3, 8, 8), np.uint8))
    with pytest.raises(ValueError, match="decode buffer"):
        decode_into([path], decode_spec(image_size=8), np.zeros((1, 1, 8, 8), np.float32))


def test_decode_array_and_hash() -> None:
    arr = np.arange(64, dtype=np.uint8).reshape(8, 8)
    d = decode_array(arr, decode_spec(image_size=8))
    assert np.array_equal(d.pixels[0], arr)
    assert d.sha256 == pixel_sha256(arr[None])
    d16 = decode_array(np.full((8, 8), 65535, np.uint16), decode_spec(image_size=8))
    assert (d16.pixels == 255).all()
    rgb = decode_array(np.zeros((8, 8, 3), np.uint8), decode_spec(image_size=8, channels=3))
    assert rgb.pixels.shape == (3, 8, 8)


def test_non_square_images_are_padded_cropped_or_squashed() -> None:
    """A 40 x 20 image (white left half, grey right half) at 20 px."""
    arr = np.full((20, 40), 100, dtype=np.uint8)
    arr[:, :20] = 255
    img = Image.fromarray(arr)
    near = {m: decode_spec(image_size=20, interpolation="nearest", resize=m) for m in MODES}
    pad = decode_pil(img, near["pad"]).pixels[0]
    assert (pad[:5] == 0).all() and (pad[15:] == 0).all()  # black bars above and below
    assert (pad[5:15, :10] == 255).all() and (pad[5:15, 10:] == 100).all()
    crop = decode_pil(img, near["crop"]).pixels[0]
    assert (crop[:, :10] == 255).all() and (crop[:, 10:] == 100).all()  # the centre 20 x 20
    squash = decode_pil(img, near["squash"])
    assert (squash.pixels[0][:, :10] == 255).all() and (squash.pixels[0][:, 10:] == 100).all()
    assert not squash.square
    square = Image.fromarray(np.full((30, 30), 9, dtype=np.uint8))
    results = {m: decode_pil(square, decode_spec(image_size=20, resize=m)) for m in MODES}
    assert results["pad"].square and len({r.sha256 for r in results.values()}) == 1
