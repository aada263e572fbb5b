#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Counts the pixels of each colour in a PNG, with nothing but the standard
library (zlib): how the picture tests look at what rsvg-convert drew.

    png_colors.py FILE.png RRGGBB...   prints "WIDTH HEIGHT" then one count a colour"""
import struct
import sys
import zlib


def decode(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or color not in (2, 6) or interlace:
                raise ValueError("only 8-bit RGB/RGBA, not interlaced")
            bpp = 4 if color == 6 else 3
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw, rows, stride = zlib.decompress(idat), [], width * bpp
    prev = bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if kind == 1: line[i] = (line[i] + a) & 255
            elif kind == 2: line[i] = (line[i] + b) & 255
            elif kind == 3: line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return width, height, bpp, rows


def main():
    width, height, bpp, rows = decode(sys.argv[1])
    wanted = [bytes.fromhex(c) for c in sys.argv[2:]]
    counts = [0] * len(wanted)
    for line in rows:
        for x in range(width):
            px = bytes(line[x * bpp:x * bpp + 3])
            for i, w in enumerate(wanted):
                if px == w:
                    counts[i] += 1
    print(width, height)
    for c in counts:
        print(c)


if __name__ == "__main__":
    main()
