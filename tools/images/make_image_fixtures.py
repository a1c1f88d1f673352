#!/usr/bin/python3
"""Writes the small images of core/src/test/resources/images/ and what PIL makes of them.

Each image kind people collect (grayscale, 16-bit, palette, alpha, CMYK, progressive JPEG, BMP, 1x1) is written by
PIL (16-bit RGB PNG by hand: PIL cannot write it), then read back the way torchvision's datasets read images,
Image.open(f).convert("RGB"); those pixels go to <name>.rgb (height x width x 3 bytes) and sizes to expected.json.
The Java test (data/ImagesTest) decodes each file and compares. Run with Debian's /usr/bin/python3 (python3-pil).
"""
import json
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

out = Path(sys.argv[1] if len(sys.argv) > 1 else "core/src/test/resources/images")
out.mkdir(parents=True, exist_ok=True)
rng = np.random.default_rng(7)
H, W = 12, 17


def smooth_rgb():
    y, x = np.mgrid[0:H, 0:W]
    r = (x * 15) % 256
    g = (y * 21) % 256
    b = ((x + y) * 9 + 40) % 256
    return np.stack([r, g, b], -1).astype(np.uint8)


def png16(path, rgb16):
    """A 16-bit RGB PNG written by hand (colour type 2, bit depth 16)."""
    h, w, _ = rgb16.shape
    raw = b"".join(b"\x00" + rgb16[i].astype(">u2").tobytes() for i in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    Path(path).write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
                           + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


base = smooth_rgb()
gray = (base[..., 0] // 2 + base[..., 1] // 2).astype(np.uint8)
files = {}
Image.fromarray(base).save(out / "rgb.png"); files["rgb.png"] = "exact"
Image.fromarray(base).save(out / "rgb.bmp"); files["rgb.bmp"] = "exact"
Image.fromarray(gray, "L").save(out / "gray.png"); files["gray.png"] = "exact"
Image.fromarray(gray, "L").save(out / "gray.jpg", quality=95); files["gray.jpg"] = "jpeg"
Image.fromarray(base).save(out / "progressive.jpg", quality=95, progressive=True); files["progressive.jpg"] = "jpeg"
Image.fromarray(base).convert("CMYK").save(out / "cmyk.jpg", quality=95); files["cmyk.jpg"] = "jpeg"
Image.fromarray(base).quantize(16).save(out / "palette.png"); files["palette.png"] = "exact"
p = Image.fromarray(base).quantize(16)
p.info["transparency"] = 3
p.save(out / "palette-transparent.png", transparency=3); files["palette-transparent.png"] = "exact"
rgba = np.concatenate([base, rng.integers(0, 256, size=(H, W, 1), dtype=np.uint8)], -1)
Image.fromarray(rgba, "RGBA").save(out / "rgba.png"); files["rgba.png"] = "exact"
la = np.stack([gray, rng.integers(0, 256, size=(H, W), dtype=np.uint8)], -1)
Image.fromarray(la, "LA").save(out / "gray-alpha.png"); files["gray-alpha.png"] = "exact"
rgb16 = (base.astype(np.uint16) << 8) | rng.integers(0, 256, size=base.shape, dtype=np.uint16)
png16(out / "rgb16.png", rgb16); files["rgb16.png"] = "exact"
g16 = (gray.astype(np.uint16) << 8) | rng.integers(0, 256, size=gray.shape, dtype=np.uint16)
Image.fromarray(g16.astype(np.uint16)).save(out / "gray16.png"); files["gray16.png"] = "high-byte"
Image.fromarray(base[:1, :1]).save(out / "one.png"); files["one.png"] = "exact"
Image.fromarray(base[:1, :1]).save(out / "one.jpg", quality=95); files["one.jpg"] = "jpeg"
# EXIF orientation 6 (rotate 90 on display): PIL's open does not apply it, and neither does frcnn4j
exif = Image.Exif()
exif[0x0112] = 6
Image.fromarray(base).save(out / "exif-rotated.jpg", quality=95, exif=exif.tobytes()); files["exif-rotated.jpg"] = "jpeg"

expected = {}
for name, how in files.items():
    im = Image.open(out / name)
    if how == "high-byte":
        # PIL opens 16-bit grayscale as mode I and clips it to 255 in convert("RGB") (mostly white); frcnn4j takes the
        # high byte, as PIL itself does for 16-bit RGB
        a = (np.array(im).astype(np.uint32) >> 8).astype(np.uint8)
        rgb = np.stack([a, a, a], -1)
    else:
        rgb = np.array(im.convert("RGB"))
    (out / (name + ".rgb")).write_bytes(rgb.tobytes())
    expected[name] = {"width": rgb.shape[1], "height": rgb.shape[0], "compare": how, "pil_mode": im.mode}
(out / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
print("wrote", len(files), "images to", out)
