"""ImageFolder: classes from sub-folders, every supported format, modes, sizes, and named errors."""

import numpy as np
import pytest
from PIL import Image

from strided.data import DataLoader, DatasetError, ImageFolder
from strided.data.preprocess import ImageDecodeError

FORMATS = {".png": "PNG", ".jpg": "JPEG", ".bmp": "BMP", ".gif": "GIF", ".webp": "WEBP"}


def rgb(seed, size=(12, 10)):
    return np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)


def save(path, array, mode="RGB"):
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(array if mode != "L" else array[..., 0])
    kwargs = {"lossless": True} if path.suffix == ".webp" else {}
    image.save(path, FORMATS[path.suffix], **kwargs)
    return path


@pytest.fixture
def folder(tmp_path):
    """cat/ with one image of each format, dog/ with two PNGs (one in a nested folder) and a text file."""
    root = tmp_path / "photos"
    arrays = {}
    for k, ext in enumerate(FORMATS):
        arrays[f"cat/{k}{ext}"] = rgb(k)
        save(root / f"cat/{k}{ext}", arrays[f"cat/{k}{ext}"])
    for name in ("dog/a.png", "dog/nested/b.PNG"):
        arrays[name] = rgb(len(arrays))
        save(root / name.replace(".PNG", ".png"), arrays[name])
        (root / name.replace(".PNG", ".png")).rename(root / name)
    (root / "dog" / "notes.txt").write_text("not an image")
    (root / ".hidden").mkdir()
    return root, arrays


def test_classes_samples_and_exact_pixels(folder):
    root, arrays = folder
    ds = ImageFolder(root)
    assert ds.classes == ["cat", "dog"] and ds.class_to_idx == {"cat": 0, "dog": 1}
    assert len(ds) == 7 and ds.labels.tolist() == [0] * 5 + [1] * 2 and ds.labels.dtype == np.int64
    assert ds.images.shape == (7, 3, 12, 10) and ds.images.dtype == np.uint8
    lossless = [k for k, (path, _) in enumerate(ds.samples) if not path.endswith((".jpg", ".gif"))]
    for k in lossless:
        key = str(ds.paths[k].relative_to(root))
        np.testing.assert_array_equal(ds.images[k], arrays[key].transpose(2, 0, 1))
    for k, (path, _) in enumerate(ds.samples):  # lossy formats: exactly what Pillow decodes
        np.testing.assert_array_equal(ds.images[k], np.asarray(Image.open(path).convert("RGB")).transpose(2, 0, 1))


def test_mode_and_size(folder):
    root, _ = folder
    gray = ImageFolder(root, mode="L", size=(8, 6))
    assert gray.images.shape == (7, 1, 8, 6) and repr(gray).startswith("ImageFolder(")
    image, label = gray[5]
    assert image.shape == (1, 8, 6) and label == 1


def test_lazy_decodes_the_same_batches(folder):
    root, _ = folder
    eager, lazy = ImageFolder(root, size=(8, 8)), ImageFolder(root, size=(8, 8), lazy=True)
    assert lazy.images is None and lazy.image_shape == (3, 8, 8)
    indices = np.array([6, 0, 3])
    np.testing.assert_array_equal(lazy.get_batch(indices)[0], eager.get_batch(indices)[0])


def test_loader_over_a_folder(folder):
    root, _ = folder
    x, y = next(iter(DataLoader(ImageFolder(root, size=(8, 8)), batch_size=4)))
    assert x.dtype == np.float32 and x.shape == (4, 3, 8, 8) and 0 <= x.min() and x.max() <= 1
    assert y.dtype == np.int64


@pytest.mark.parametrize("lazy", [False, True])
def test_corrupt_file_raises_naming_it_or_is_skipped(folder, lazy):
    root, _ = folder
    bad = root / "cat" / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n this is no image")
    with pytest.raises(ImageDecodeError, match=str(bad)):
        ImageFolder(root, lazy=lazy)
    with pytest.warns(UserWarning, match=r"skipped 1 file\(s\) that could not be decoded; first: .*broken.png"):
        ds = ImageFolder(root, on_error="skip", lazy=lazy)
    assert len(ds) == 7 and [p.name for p, _ in ds.skipped] == ["broken.png"]


def test_truncated_image_is_named(folder):
    root, arrays = folder
    path = save(root / "dog" / "big.png", rgb(99, size=(64, 64)))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ImageDecodeError, match=r"big.png: damaged or truncated PNG data"):
        ImageFolder(root)


def test_lazy_read_of_a_file_damaged_after_construction(folder):
    root, _ = folder
    ds = ImageFolder(root, lazy=True)
    (root / "dog" / "a.png").write_bytes(b"gone")
    with pytest.raises(ImageDecodeError, match=r"a.png: not an image Pillow can decode"):
        ds.get_batch(np.array([5]))


def test_empty_class_folder(folder):
    root, _ = folder
    (root / "zebra").mkdir()
    (root / "zebra" / "readme.txt").write_text("no images yet")
    with pytest.raises(DatasetError, match=rf"{root / 'zebra'} is an empty class folder"):
        ImageFolder(root)


def test_no_class_folders_and_missing_root(tmp_path):
    (tmp_path / "flat.png").write_bytes(b"")
    with pytest.raises(DatasetError, match="has no class sub-folders"):
        ImageFolder(tmp_path)
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        ImageFolder(tmp_path / "nowhere")


@pytest.mark.parametrize("lazy", [False, True])
def test_images_of_different_sizes_need_size(folder, lazy):
    root, _ = folder
    save(root / "dog" / "wide.png", rgb(5, size=(12, 30)))
    with pytest.raises(DatasetError, match=r"wide.png gives an image of shape \(3, 12, 30\) .* pass size=\(H, W\)"):
        ImageFolder(root, lazy=lazy)
    assert ImageFolder(root, size=(12, 10), lazy=lazy).image_shape == (3, 12, 10)


def test_keeping_native_modes(tmp_path):
    root = tmp_path / "r"
    save(root / "a" / "gray.png", rgb(0), mode="L")
    assert ImageFolder(root, mode=None).image_shape == (1, 12, 10)
    save(root / "b" / "color.png", rgb(1))
    with pytest.raises(DatasetError, match=r"color.png gives an image of shape \(3, 12, 10\) but .*gray.png"):
        ImageFolder(root, mode=None)
    Image.fromarray(np.zeros((4, 4, 4), np.uint8), "RGBA").save(root / "b" / "color.png")
    with pytest.raises(DatasetError, match="color.png: image mode RGBA, expected L or RGB"):
        ImageFolder(root, mode=None)
    assert ImageFolder(root, mode="RGB", size=(4, 4)).image_shape == (3, 4, 4)


def test_argument_errors(folder):
    root, _ = folder
    with pytest.raises(ValueError, match="on_error must be 'raise' or 'skip'"):
        ImageFolder(root, on_error="ignore")
    with pytest.raises(ValueError, match="mode must be 'L', 'RGB' or None"):
        ImageFolder(root, mode="CMYK")
    with pytest.raises(ValueError, match=r"ImageFolder: size must be an int or a pair of ints \(h, w\) >= 1, got \("):
        ImageFolder(root, size=(0, 3))


@pytest.mark.parametrize("lazy", [False, True])
def test_sixteen_bit_greyscale_is_scaled_as_predict_scales_it(tmp_path, lazy):
    """A 16-bit PNG keeps its high byte (256 * k + low -> k), as predict and serve read it; Pillow's own
    convert('L') would clamp every value over 255 to white."""
    high = np.random.default_rng(3).integers(0, 256, (9, 7), dtype=np.uint16)
    path = tmp_path / "digits" / "a" / "deep.png"
    path.parent.mkdir(parents=True)
    low = np.random.default_rng(4).integers(0, 256, (9, 7), dtype=np.uint16)
    sixteen = Image.fromarray(high * 256 + low)
    assert sixteen.mode.startswith("I;16")
    sixteen.save(path)
    images, _ = ImageFolder(tmp_path / "digits", mode="L", lazy=lazy)[:1]
    np.testing.assert_array_equal(images[0, 0], high.astype(np.uint8))
