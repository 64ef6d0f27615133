#!/usr/bin/env python3
"""Image-decoding fixtures for ImageDecoderTests.swift, with Pillow as the oracle.

Run from the repository root (Pillow pinned in Scripts/requirements.txt, with its WebP
support, which the wheels bundle; a C compiler and libjpeg's headers are needed for the
YCCK and arithmetic-coded samples):

    .venv/bin/python Scripts/make_image_fixtures.py

Writes Tests/Fixtures/images/:
  *.jpg, *.png      small images made here (baseline/progressive/arithmetic/gray/CMYK/YCCK JPEG,
                    EXIF orientations, PNG of every colour type and depth, Adam7) and
                    bad inputs (empty, text, truncated, bad CRC, zero size, 60000x60000)
  webp_*.webp       lossy and lossless WebP, with and without alpha, with EXIF orientation,
                    one under a .jpg name (webp_named.jpg), and bad ones (truncated, corrupt,
                    animated, headers claiming 16384x16384 / 16383x16383)
  face.webp, face.png  Docs/samples/img5.jpg made 112 px wide: the same pixels as lossless
                    WebP and as PNG (manifest "webp_face"), for the detector test
  *.rgb             Pillow's pixels for each good image: raw RGB bytes, row-major,
                    = ImageOps.exif_transpose(Image.open(f)).convert("RGB")
  manifest.json     {"pillow", "images": [{file, reference, width, height, note?}],
                     "invalid": [{file, error, contains}], "shared_references": [...],
                     "webp_face": {webp, png, source, width, height, scale}}
  shared_digests.json  for every ../shared/faces/photos/*.jpg and crops/*.png:
                    width, height and SHA-256 of Pillow's RGB bytes
  shared_img*.rgb   full Pillow pixels of three small shared photos, so a mismatch
                    can be located (the photos themselves stay in ../shared)

Everything is deterministic (fixed seed, Pillow's encoder is deterministic).
"""
import hashlib
import json
import os
import struct
import subprocess
import sys
import tempfile
import warnings
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, features, __version__ as PILLOW_VERSION

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests/Fixtures/images"
SHARED = ROOT.parent / "shared/faces"
# Small shared photos whose full pixels are committed: progressive 4:2:0, baseline 4:4:4,
# baseline 4:2:0 with an EXIF block.
SHARED_PIXEL_REFERENCES = ["img12.jpg", "img5.jpg", "img21.jpg"]

manifest = {"pillow": PILLOW_VERSION, "images": [], "invalid": [], "shared_references": []}


# ----------------------------------------------------------------------------- helpers

def test_pattern(width, height, seed=1):
    """Smooth gradients, hard edges and noise (so chroma upsampling and the IDCT matter),
    with a red block at the top-left corner so any rotation or mirror is visible."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    r = 255 * x / max(width - 1, 1)
    g = 255 * y / max(height - 1, 1)
    b = 128 + 100 * np.sin(x / 3.0) * np.cos(y / 4.0)
    img = np.stack([r, g, b], axis=-1)
    img += rng.normal(0, 12, img.shape)
    img[(x.astype(int) // 6 + y.astype(int) // 6) % 2 == 0] *= 0.7  # checkerboard edges
    img[: max(height // 4, 1), : max(width // 4, 1)] = [230, 20, 30]
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def pillow_rgb(path):
    with warnings.catch_warnings(), Image.open(path) as im:
        # Pillow advises RGBA for palette + tRNS; convert("RGB") still just maps the palette.
        warnings.filterwarnings("ignore", "Palette images with Transparency")
        return np.asarray(ImageOps.exif_transpose(im).convert("RGB"))


def add_image(name, note=None, reference=None):
    """Record a good image; its reference is Pillow's unless given (then `note` says why)."""
    pixels = pillow_rgb(OUT / name) if reference is None else reference
    assert pixels.dtype == np.uint8 and pixels.ndim == 3 and pixels.shape[2] == 3
    ref = Path(name).stem + ".rgb"
    (OUT / ref).write_bytes(pixels.tobytes())
    entry = {"file": name, "reference": ref, "width": int(pixels.shape[1]), "height": int(pixels.shape[0])}
    if note:
        entry["note"] = note
    manifest["images"].append(entry)


def add_invalid(name, data, error, contains):
    (OUT / name).write_bytes(data)
    manifest["invalid"].append({"file": name, "error": error, "contains": contains})


def save_jpeg(name, image, **options):
    image.save(OUT / name, "JPEG", **options)
    return (OUT / name).read_bytes()


# ----------------------------------------------------------------------------- PNG writer
# Pillow cannot write 16-bit RGB, 1/2/4-bit gray, or Adam7, so those are written here.
# Rows use filter types 0..4 in turn, so every unfiltering path is exercised.

def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _filter_row(kind, row, prior, bpp):
    out = bytearray(len(row))
    for i, value in enumerate(row):
        left = row[i - bpp] if i >= bpp else 0
        up = prior[i]
        corner = prior[i - bpp] if i >= bpp else 0
        if kind == 0:
            pred = 0
        elif kind == 1:
            pred = left
        elif kind == 2:
            pred = up
        elif kind == 3:
            pred = (left + up) // 2
        else:
            p = left + up - corner
            pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
            pred = left if pa <= pb and pa <= pc else (up if pb <= pc else corner)
        out[i] = (value - pred) & 0xFF
    return bytes([kind]) + bytes(out)


def _pack_rows(samples, bit_depth):
    """samples: (h, w, c) integer array -> list of packed row bytes (big-endian)."""
    rows = []
    for row in samples:
        flat = row.reshape(-1)
        if bit_depth == 16:
            rows.append(flat.astype(">u2").tobytes())
        elif bit_depth == 8:
            rows.append(flat.astype(np.uint8).tobytes())
        else:
            per_byte = 8 // bit_depth
            padded = np.zeros(-(-len(flat) // per_byte) * per_byte, dtype=np.uint8)
            padded[: len(flat)] = flat
            packed = np.zeros(len(padded) // per_byte, dtype=np.uint8)
            for k in range(per_byte):
                packed |= padded[k::per_byte] << (8 - bit_depth * (k + 1))
            rows.append(packed.tobytes())
    return rows


def _scanlines(samples, bit_depth):
    channels = samples.shape[2]
    bpp = max(1, channels * bit_depth // 8)
    rows = _pack_rows(samples, bit_depth)
    out, prior = bytearray(), bytes(len(rows[0]) if rows else 0)
    for y, row in enumerate(rows):
        out += _filter_row(y % 5, row, prior, bpp)
        prior = row
    return bytes(out)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def write_png(name, samples, color_type, bit_depth, interlace=False, before_idat=(), after_idat=()):
    """samples: (h, w, channels) array of sample values (palette indices for type 3)."""
    h, w = samples.shape[:2]
    if interlace:
        raw = b"".join(_scanlines(samples[y0::dy, x0::dx], bit_depth)
                       for x0, y0, dx, dy in ADAM7 if samples[y0::dy, x0::dx].size)
    else:
        raw = _scanlines(samples, bit_depth)
    ihdr = struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 1 if interlace else 0)
    data = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)
    data += b"".join(png_chunk(k, d) for k, d in before_idat)
    data += png_chunk(b"IDAT", zlib.compress(raw, 9))
    data += b"".join(png_chunk(k, d) for k, d in after_idat)
    data += png_chunk(b"IEND", b"")
    (OUT / name).write_bytes(data)
    return data


# ----------------------------------------------------------------------------- EXIF

def exif_block(orientation, big_endian=False, ifd_offset=8):
    """TIFF bytes with one IFD0 entry: Orientation (0x0112) SHORT count 1."""
    e = ">" if big_endian else "<"
    head = (b"MM" if big_endian else b"II") + struct.pack(e + "HI", 42, ifd_offset)
    value = struct.pack(e + "H", orientation) + b"\x00\x00"
    ifd = struct.pack(e + "H", 1) + struct.pack(e + "HHI", 0x0112, 3, 1) + value + struct.pack(e + "I", 0)
    return head + ifd


# ----------------------------------------------------------------------------- libjpeg writer
# Photoshop writes CMYK JPEGs as Adobe YCCK with inverted samples, and some encoders use
# arithmetic coding; Pillow can write neither, so a small libjpeg program does:
#   jpegw W H ycck|rgb SEQ|PROG|ARITH|ARITHPROG < raw samples (4 or 3 per pixel) > file.jpg
JPEG_WRITER = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
int main(int argc, char **argv) {
    if (argc != 5) return 2;
    int w = atoi(argv[1]), h = atoi(argv[2]), ycck = strcmp(argv[3], "ycck") == 0;
    int n = ycck ? 4 : 3;
    unsigned char *buf = malloc((size_t)w * h * n);
    if (!buf || fread(buf, n, (size_t)w * h, stdin) != (size_t)w * h) return 3;
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, stdout);
    c.image_width = w;
    c.image_height = h;
    c.input_components = n;
    c.in_color_space = ycck ? JCS_CMYK : JCS_RGB;
    jpeg_set_defaults(&c);
    if (ycck) jpeg_set_colorspace(&c, JCS_YCCK);
    jpeg_set_quality(&c, 90, TRUE);
    if (strstr(argv[4], "ARITH")) c.arith_code = TRUE;
    if (strstr(argv[4], "PROG")) jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = buf + (size_t)c.next_scanline * w * n;
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    return 0;
}
"""


def write_with_libjpeg(name, samples, kind, mode):
    """samples: (h, w, 3) RGB or (h, w, 4) stored (Adobe-inverted) CMYK."""
    with tempfile.TemporaryDirectory() as tmp:
        src, exe = Path(tmp) / "jpegw.c", Path(tmp) / "jpegw"
        src.write_text(JPEG_WRITER)
        subprocess.run(["cc", "-O1", "-o", str(exe), str(src), "-ljpeg"], check=True)
        h, w = samples.shape[:2]
        result = subprocess.run([str(exe), str(w), str(h), kind, mode], input=np.ascontiguousarray(samples).tobytes(),
                                capture_output=True, check=True)
    (OUT / name).write_bytes(result.stdout)


# ----------------------------------------------------------------------------- fixtures

def make_jpegs():
    rgb = Image.fromarray(test_pattern(48, 32))
    save_jpeg("jpeg_baseline_420.jpg", rgb, quality=90, subsampling=2)
    save_jpeg("jpeg_baseline_422.jpg", rgb, quality=90, subsampling=1)
    save_jpeg("jpeg_baseline_444.jpg", rgb, quality=90, subsampling=0)
    save_jpeg("jpeg_progressive_420.jpg", rgb, quality=90, subsampling=2, progressive=True)
    save_jpeg("jpeg_odd_size_420.jpg", Image.fromarray(test_pattern(37, 23, seed=2)), quality=85, subsampling=2)
    save_jpeg("jpeg_gray.jpg", rgb.convert("L"), quality=90)
    save_jpeg("jpeg_gray_progressive.jpg", rgb.convert("L"), quality=90, progressive=True)
    cmyk = rgb.convert("CMYK")
    save_jpeg("jpeg_cmyk.jpg", cmyk, quality=90)
    write_with_libjpeg("jpeg_ycck.jpg", 255 - np.asarray(cmyk), "ycck", "SEQ")  # stored = 255 - ink
    with Image.open(OUT / "jpeg_ycck.jpg") as im:
        assert im.mode == "CMYK" and im.info.get("adobe_transform") == 2, (im.mode, im.info)
    write_with_libjpeg("jpeg_arithmetic.jpg", np.asarray(rgb), "rgb", "ARITH")
    write_with_libjpeg("jpeg_arithmetic_progressive.jpg", np.asarray(rgb), "rgb", "ARITHPROG")
    save_jpeg("jpeg_1x1.jpg", Image.new("RGB", (1, 1), (200, 30, 90)), quality=95)
    for name in ["jpeg_baseline_420.jpg", "jpeg_baseline_422.jpg", "jpeg_baseline_444.jpg",
                 "jpeg_progressive_420.jpg", "jpeg_odd_size_420.jpg", "jpeg_gray.jpg",
                 "jpeg_gray_progressive.jpg", "jpeg_cmyk.jpg", "jpeg_ycck.jpg", "jpeg_arithmetic.jpg",
                 "jpeg_arithmetic_progressive.jpg", "jpeg_1x1.jpg"]:
        add_image(name)

    # Junk bytes between two header segments: libjpeg warns "Corrupt JPEG data: 4 extraneous
    # bytes before marker 0xdb" but the pixels are intact, so the warning is tolerated.
    baseline = (OUT / "jpeg_baseline_420.jpg").read_bytes()
    dqt = baseline.index(b"\xff\xdb")
    (OUT / "jpeg_extraneous_bytes.jpg").write_bytes(baseline[:dqt] + b"\x00\x11\x22\x33" + baseline[dqt:])
    add_image("jpeg_extraneous_bytes.jpg", note="tolerated libjpeg warning (extraneous bytes before a marker)")

    # EXIF orientations on a non-square image (48x32 stored).
    for o in range(1, 9):
        name = f"jpeg_exif_o{o}.jpg"
        save_jpeg(name, rgb, quality=90, exif=b"Exif\x00\x00" + exif_block(o))
        add_image(name)
    save_jpeg("jpeg_exif_o6_bigendian.jpg", rgb, quality=90, exif=b"Exif\x00\x00" + exif_block(6, big_endian=True))
    add_image("jpeg_exif_o6_bigendian.jpg")
    # IFD0 offset far past the block: orientation is ignored (the image is not rotated).
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Corrupt EXIF data")  # Pillow ignores the orientation too
        save_jpeg("jpeg_exif_broken.jpg", rgb, quality=90, exif=b"Exif\x00\x00" + exif_block(6, ifd_offset=4000))
        with Image.open(OUT / "jpeg_exif_broken.jpg") as im:
            unrotated = np.asarray(im.convert("RGB"))
        assert np.array_equal(pillow_rgb(OUT / "jpeg_exif_broken.jpg"), unrotated)
    add_image("jpeg_exif_broken.jpg", reference=unrotated,
              note="broken IFD0 offset: orientation ignored (as Pillow's exif_transpose does)")


def make_pngs():
    rgb = test_pattern(40, 24, seed=3)
    rng = np.random.default_rng(4)
    alpha = rng.integers(0, 256, (24, 40, 1), dtype=np.uint8)
    gray = np.asarray(Image.fromarray(rgb).convert("L"))

    Image.fromarray(rgb).save(OUT / "png_rgb8.png")
    add_image("png_rgb8.png")
    Image.fromarray(np.concatenate([rgb, alpha], axis=2), "RGBA").save(OUT / "png_rgba8.png")
    add_image("png_rgba8.png", note="alpha dropped, not composited")
    Image.fromarray(gray).save(OUT / "png_gray8.png")
    add_image("png_gray8.png")
    Image.fromarray(np.stack([gray, alpha[..., 0]], axis=2), "LA").save(OUT / "png_gray_alpha8.png")
    add_image("png_gray_alpha8.png")
    pal = Image.fromarray(rgb).quantize(colors=64, dither=Image.Dither.NONE)
    pal.save(OUT / "png_palette_trns.png", transparency=bytes(range(0, 256, 4)))
    with Image.open(OUT / "png_palette_trns.png") as im:
        assert im.mode == "P" and "transparency" in im.info
    add_image("png_palette_trns.png", note="tRNS ignored: palette colours")

    # Written here: 16-bit (high byte kept), low bit depths, Adam7, eXIf, gray + tRNS.
    wide = rgb.astype(np.uint16) * 256 + rng.integers(0, 256, rgb.shape).astype(np.uint16)
    write_png("png_rgb16.png", wide, 2, 16)
    add_image("png_rgb16.png", note="16-bit: Pillow keeps the high byte")
    wide_a = np.concatenate([wide, alpha.astype(np.uint16) * 257], axis=2)
    write_png("png_rgba16.png", wide_a, 6, 16)
    add_image("png_rgba16.png")
    gray16 = gray.astype(np.uint16)[..., None] * 256 + 3
    write_png("png_gray16.png", gray16, 0, 16)
    add_image("png_gray16.png", reference=np.repeat((gray16 >> 8).astype(np.uint8), 3, axis=2),
              note="16-bit gray: reference is the high byte (as for 16-bit RGB). Pillow opens it as I;16 and "
                   "convert('RGB') clamps each value to 255 instead, which is not followed")
    write_png("png_gray_alpha16.png", np.concatenate([gray16, alpha.astype(np.uint16) * 257], axis=2), 4, 16)
    add_image("png_gray_alpha16.png")
    for depth in (1, 2, 4):
        levels = (gray.astype(np.uint32) * ((1 << depth) - 1) + 127) // 255
        write_png(f"png_gray{depth}.png", levels[..., None], 0, depth)
        add_image(f"png_gray{depth}.png")
    indices = rng.integers(0, 16, (24, 40, 1))
    palette = rng.integers(0, 256, (16, 3), dtype=np.uint8)
    write_png("png_palette4.png", indices, 3, 4, before_idat=[(b"PLTE", palette.tobytes())])
    add_image("png_palette4.png")
    write_png("png_gray8_trns.png", gray[..., None], 0, 8, before_idat=[(b"tRNS", struct.pack(">H", int(gray[0, 0])))])
    add_image("png_gray8_trns.png")
    write_png("png_interlaced_rgb8.png", rgb, 2, 8, interlace=True)
    add_image("png_interlaced_rgb8.png")
    write_png("png_interlaced_rgba16.png", wide_a, 6, 16, interlace=True)
    add_image("png_interlaced_rgba16.png")
    write_png("png_interlaced_palette4.png", indices, 3, 4, interlace=True,
              before_idat=[(b"PLTE", palette.tobytes()), (b"tRNS", bytes(range(0, 256, 16)))])
    add_image("png_interlaced_palette4.png")
    write_png("png_exif_o6.png", rgb, 2, 8, before_idat=[(b"eXIf", exif_block(6))])
    add_image("png_exif_o6.png")
    write_png("png_exif_o8_after_idat.png", rgb, 2, 8, after_idat=[(b"eXIf", exif_block(8, big_endian=True))])
    add_image("png_exif_o8_after_idat.png")
    write_png("png_1x1.png", np.array([[[10, 250, 128]]], dtype=np.uint8), 2, 8)
    add_image("png_1x1.png")


def make_invalid():
    add_invalid("empty.jpg", b"", "invalidImage", "empty")
    add_invalid("text.jpg", b"This is not a picture, just a note saved as .jpg\n", "invalidImage", "text")
    add_invalid("gif_named.png", b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,"
                b"\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;", "invalidImage", "GIF")
    add_invalid("unknown.bin", bytes([0x00, 0x01, 0x02, 0x03, 0xFE, 0xFD, 0x10, 0x11]), "invalidImage", "unknown format")

    baseline = (OUT / "jpeg_baseline_420.jpg").read_bytes()
    add_invalid("truncated_baseline.jpg", baseline[: len(baseline) // 2], "invalidImage", "Premature end of JPEG file")
    progressive = (OUT / "jpeg_progressive_420.jpg").read_bytes()
    add_invalid("truncated_progressive.jpg", progressive[: len(progressive) * 2 // 3], "invalidImage",
                "Premature end of JPEG file")
    add_invalid("truncated_header.jpg", baseline[:100], "invalidImage", "JPEG")
    # A marker (RST0) dropped into the entropy-coded data of a baseline scan.
    sos = baseline.index(b"\xff\xda")
    at = sos + 2 + struct.unpack(">H", baseline[sos + 2: sos + 4])[0] + 40
    add_invalid("corrupt_scan.jpg", baseline[:at] + b"\xff\xd0" + baseline[at + 2:], "invalidImage", "Corrupt JPEG data")

    # SOF0 frame header: FF C0, length(2), precision(1), height(2), width(2).
    sof = baseline.index(b"\xff\xc0")
    bomb = baseline[: sof + 5] + struct.pack(">HH", 60000, 60000) + baseline[sof + 9:]
    add_invalid("bomb_60000x60000.jpg", bomb, "imageTooLarge", "60000")
    zero_h = baseline[: sof + 5] + struct.pack(">H", 0) + baseline[sof + 7:]
    add_invalid("zero_height.jpg", zero_h, "invalidImage", "JPEG")

    good = (OUT / "png_rgb8.png").read_bytes()
    idat = good.index(b"IDAT")
    length = struct.unpack(">I", good[idat - 4: idat])[0]
    crc_at = idat + 4 + length
    bad = good[:crc_at] + bytes([good[crc_at] ^ 0x55]) + good[crc_at + 1:]
    add_invalid("bad_crc_idat.png", bad, "invalidImage", "CRC")
    # A correct image whose ancillary tEXt chunk has a wrong CRC (libpng only warns by default).
    text = png_chunk(b"tEXt", b"Comment\x00hello")
    text = text[:-1] + bytes([text[-1] ^ 0x01])
    add_invalid("bad_crc_text.png", good[:33] + text + good[33:], "invalidImage", "CRC")
    add_invalid("truncated.png", good[: len(good) - 40], "invalidImage", "truncated")
    ihdr = struct.pack(">IIBBBBB", 0, 24, 8, 2, 0, 0, 0)
    add_invalid("zero_width.png", good[:8] + png_chunk(b"IHDR", ihdr) + good[33:], "invalidImage", "PNG")
    bomb_png = good[:8] + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0)) + good[33:]
    add_invalid("bomb_60000x60000.png", bomb_png, "imageTooLarge", "60000")


def make_webps():
    """WebP: Pillow decodes it with libwebp (its bundled copy), as the decoder does with the
    system's; the lossy references are Pillow's decode, the lossless ones the source pixels."""
    assert features.check("webp"), "this Pillow has no WebP support"
    rgb = test_pattern(37, 23, seed=5)
    alpha = np.random.default_rng(6).integers(0, 256, (23, 37, 1), dtype=np.uint8)
    alpha[0, :8] = 0  # fully transparent pixels over the red corner: their colour must survive
    rgba = np.concatenate([rgb, alpha], axis=2)

    def save(name, image, **options):
        image.save(OUT / name, "WEBP", **options)
        return (OUT / name).read_bytes()

    def lossless(name, image, note):
        assert save(name, image, lossless=True, exact=True)[12:16] == b"VP8L"
        assert np.array_equal(pillow_rgb(OUT / name), rgb), name
        add_image(name, reference=rgb, note=note)

    # exact=True keeps the colour of transparent pixels (libwebp would otherwise change it).
    lossless("webp_lossless.webp", Image.fromarray(rgb), "lossless VP8L: reference is the source pixels (= Pillow's)")
    lossless("webp_lossless_alpha.webp", Image.fromarray(rgba, "RGBA"),
             "lossless with alpha (some 0): reference is the source RGB, alpha dropped, not composited")
    assert save("webp_lossy.webp", Image.fromarray(rgb), quality=80)[12:16] == b"VP8 "
    add_image("webp_lossy.webp", note="lossy VP8: reference is Pillow's decode (libwebp); measured max difference 0")
    assert save("webp_lossy_alpha.webp", Image.fromarray(rgba, "RGBA"), quality=80)[12:16] == b"VP8X"
    add_image("webp_lossy_alpha.webp", note="lossy with an ALPH chunk: Pillow's decode, alpha dropped")
    # EXIF chunk as the format says (TIFF bytes alone) and with the "Exif\0\0" prefix
    # some writers add (Pillow reads both); references are Pillow's exif_transpose.
    save("webp_exif_o6.webp", Image.fromarray(rgb), lossless=True, exif=exif_block(6))
    add_image("webp_exif_o6.webp", note="EXIF chunk, orientation 6 (rotated to 23x37)")
    save("webp_exif_o8_prefixed.webp", Image.fromarray(rgb), quality=80, exif=b"Exif\x00\x00" + exif_block(8, big_endian=True))
    add_image("webp_exif_o8_prefixed.webp", note="EXIF chunk with an Exif\\0\\0 prefix, big-endian, orientation 8")
    for name in ("webp_exif_o6.webp", "webp_exif_o8_prefixed.webp"):
        with Image.open(OUT / name) as im:
            assert im.size == (37, 23) and im.getexif().get(0x0112) in (6, 8), (name, im.getexif())
    # A web download saved as .jpg: the lossy file's bytes under another name.
    lossy = (OUT / "webp_lossy.webp").read_bytes()
    (OUT / "webp_named.jpg").write_bytes(lossy)
    manifest["images"].append({"file": "webp_named.jpg", "reference": "webp_lossy.rgb", "width": 37, "height": 23,
                               "note": "WebP bytes under a .jpg name: decoded as WebP (sniffed by content)"})

    exact = (OUT / "webp_lossless.webp").read_bytes()
    add_invalid("webp_truncated_lossy.webp", lossy[: len(lossy) // 2], "invalidImage", "data ends early (truncated")
    add_invalid("webp_truncated_lossless.webp", exact[: len(exact) // 2], "invalidImage", "data ends early (truncated")
    # VP8 frame start code 9D 01 2A broken: refused while reading the header.
    start = lossy.index(b"\x9d\x01\x2a")
    add_invalid("webp_bad_start_code.webp", lossy[:start] + b"\x9d\x01\x2b" + lossy[start + 3:], "invalidImage",
                "invalid WebP data")
    # 16 bytes of 0xFF inside the lossless bitstream: the header is fine, decoding fails.
    add_invalid("webp_corrupt_lossless.webp", exact[:60] + b"\xff" * 16 + exact[76:], "invalidImage", "invalid WebP data")
    frames = [Image.new("RGB", (8, 8), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(OUT / "webp_animated.webp", "WEBP", save_all=True, append_images=frames[1:], duration=100, lossless=True)
    with Image.open(OUT / "webp_animated.webp") as im:
        assert im.n_frames == 2
    manifest["invalid"].append({"file": "webp_animated.webp", "error": "invalidImage", "contains": "animated WebP"})
    # Headers claiming 16384x16384 (VP8L: 14-bit width-1, height-1 after the 0x2F signature)
    # and 16383x16383 (VP8: 14-bit sizes after the start code), over the 64 Mi pixel limit;
    # the data after them is still the 37x23 image's.
    bits = struct.unpack("<I", exact[21:25])[0] & ~((1 << 28) - 1) | 16383 | 16383 << 14
    add_invalid("bomb_16384x16384.webp", exact[:21] + struct.pack("<I", bits) + exact[25:], "imageTooLarge", "16384")
    add_invalid("bomb_16383x16383.webp", lossy[: start + 3] + struct.pack("<HH", 16383, 16383) + lossy[start + 7:],
                "imageTooLarge", "16383")

    # A real face: the same pixels as lossless WebP and PNG, for the detector test.
    source = ROOT / "Docs/samples/img5.jpg"
    with Image.open(source) as im:
        photo = ImageOps.exif_transpose(im).convert("RGB")
    width = 112
    face = photo.resize((width, round(photo.height * width / photo.width)), Image.Resampling.LANCZOS)
    face.save(OUT / "face.webp", "WEBP", lossless=True, quality=100, method=6)
    face.save(OUT / "face.png", optimize=True)
    assert np.array_equal(pillow_rgb(OUT / "face.webp"), np.asarray(face))
    assert np.array_equal(pillow_rgb(OUT / "face.png"), np.asarray(face))
    manifest["webp_face"] = {"webp": "face.webp", "png": "face.png", "source": "Docs/samples/img5.jpg",
                             "width": face.width, "height": face.height, "scale": face.width / photo.width}


def make_shared():
    """Digests of Pillow's RGB for every shared photo and crop, + full pixels for a few."""
    if not SHARED.is_dir():
        print(f"{SHARED} absent: shared digests not written", file=sys.stderr)
        return
    digests = {"pillow": PILLOW_VERSION, "photos": {}, "crops": {}}
    for group, pattern in (("photos", "photos/*.jpg"), ("crops", "crops/*.png")):
        for path in sorted(SHARED.glob(pattern)):
            pixels = pillow_rgb(path)
            digests[group][path.name] = {"width": int(pixels.shape[1]), "height": int(pixels.shape[0]),
                                         "sha256": hashlib.sha256(pixels.tobytes()).hexdigest()}
            if group == "photos" and path.name in SHARED_PIXEL_REFERENCES:
                ref = "shared_" + path.stem + ".rgb"
                (OUT / ref).write_bytes(pixels.tobytes())
                manifest["shared_references"].append({"file": "photos/" + path.name, "reference": ref,
                                                      "width": int(pixels.shape[1]), "height": int(pixels.shape[0])})
    (OUT / "shared_digests.json").write_text(json.dumps(digests, indent=1, sort_keys=True) + "\n")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.iterdir():
        if old.is_file():
            old.unlink()
    make_jpegs()
    make_pngs()
    make_invalid()
    make_webps()
    make_shared()
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"wrote {len(list(OUT.iterdir()))} files, {total / 1e6:.2f} MB, to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
