#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Extract the uncompressed ELF kernel (vmlinux) from an x86 bzImage.

Usage: extract-vmlinux.py VMLINUZ OUT

qemu can boot an ELF vmlinux through its PVH entry point, which skips the
in-guest decompression (seconds under TCG). The bzImage's setup header says
where the compressed payload is (boot protocol >= 2.08: payload_offset and
payload_length, relative to the start of the protected-mode code); the
payload's own magic says how it is compressed. When the header is too old,
the file is scanned for a known magic instead, and every candidate is tried
until one decompresses to an ELF file.
"""
import bz2
import gzip
import lzma
import shutil
import struct
import subprocess
import sys
import zlib

ELF_MAGIC = b"\x7fELF"

# (name, magic) of the formats a kernel may be compressed with.
FORMATS = [
    ("gzip", b"\x1f\x8b\x08"),
    ("xz", b"\xfd7zXZ\x00"),
    ("zstd", b"\x28\xb5\x2f\xfd"),
    ("bzip2", b"BZh"),
    ("lzma", b"\x5d\x00\x00"),
    ("lz4", b"\x02\x21\x4c\x18"),
    ("lzo", b"\x89LZO"),
]


def run_tool(argv, data):
    """Decompress with an external tool (formats Python lacks)."""
    if shutil.which(argv[0]) is None:
        raise ValueError(f"{argv[0]} is not installed")
    p = subprocess.run(argv, input=data, stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, check=False)
    # Trailing data after the stream makes some tools exit non-zero even
    # though the output is complete; the ELF check below decides.
    return p.stdout


def decompress(fmt, data):
    if fmt == "gzip":
        # The payload is followed by the decompressed size; stop at the end
        # of the first member instead of failing on "trailing garbage".
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        return d.decompress(data)
    if fmt == "xz":
        d = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
        return d.decompress(data)
    if fmt == "lzma":
        d = lzma.LZMADecompressor(format=lzma.FORMAT_ALONE)
        return d.decompress(data)
    if fmt == "bzip2":
        return bz2.BZ2Decompressor().decompress(data)
    if fmt == "zstd":
        return run_tool(["zstd", "-dc", "-q"], data)
    if fmt == "lz4":
        return run_tool(["lz4", "-dc", "-q"], data)
    if fmt == "lzo":
        return run_tool(["lzop", "-dc", "-q"], data)
    raise ValueError(fmt)


def header_payload(img):
    """The payload slice named by the setup header, or None."""
    if len(img) < 0x250 or img[0x202:0x206] != b"HdrS":
        return None
    version = struct.unpack_from("<H", img, 0x206)[0]
    if version < 0x208:
        return None
    setup_sects = img[0x1F1] or 4
    pm_start = (setup_sects + 1) * 512
    off, length = struct.unpack_from("<II", img, 0x248)
    start = pm_start + off
    if length == 0 or start + length > len(img):
        return None
    return img[start:start + length]


def candidates(img):
    payload = header_payload(img)
    if payload is not None:
        for fmt, magic in FORMATS:
            if payload.startswith(magic):
                yield fmt, payload
    for fmt, magic in FORMATS:
        pos = img.find(magic)
        while pos >= 0:
            yield fmt, img[pos:]
            pos = img.find(magic, pos + 1)


def main():
    if len(sys.argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    with open(sys.argv[1], "rb") as f:
        img = f.read()
    if img.startswith(ELF_MAGIC):
        out = img
    else:
        out = None
        tried = []
        for fmt, data in candidates(img):
            try:
                res = decompress(fmt, data)
            except (ValueError, OSError, EOFError, lzma.LZMAError,
                    zlib.error, gzip.BadGzipFile):
                tried.append(fmt)
                continue
            if res.startswith(ELF_MAGIC):
                out = res
                break
            tried.append(fmt)
        if out is None:
            sys.stderr.write(f"{sys.argv[1]}: no compressed ELF kernel found "
                             f"(tried: {', '.join(sorted(set(tried))) or 'nothing'})\n")
            return 1
    with open(sys.argv[2], "wb") as f:
        f.write(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
