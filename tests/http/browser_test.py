#!/usr/bin/env python3
"""A real browser against http_server: headless Chromium loads a page with CSS, JavaScript and an
image; the rendered DOM must show that the script ran, the stylesheet applied and the image
loaded, and a screenshot must not be blank (it must show the image's red pixels).
Usage: browser_test.py --server PATH --mode reactor|proactor"""

from __future__ import annotations

import argparse
import os
import struct
import subprocess
import sys
import tempfile
import zlib

from http_support import Server, Tree, log, need_tool, png

PAGE = b"""<!doctype html>
<html><head><title>nioxx browser test</title><link rel="stylesheet" href="style.css"></head>
<body>
<h1>nioxx http_server</h1>
<img id="pic" src="image.png" width="120" height="120" alt="red square">
<p id="script">script did not run</p>
<p id="image">image pending</p>
<p id="css">css pending</p>
<script src="app.js"></script>
</body></html>
"""

SCRIPT = b"""
document.getElementById('script').textContent = 'script ran';
const pic = document.getElementById('pic');
function report() {
  document.getElementById('image').textContent =
      pic.complete && pic.naturalWidth > 0 ? 'image loaded ' + pic.naturalWidth : 'image failed';
}
if (pic.complete) report(); else { pic.onload = report; pic.onerror = report; }
document.getElementById('css').textContent =
    'css ' + getComputedStyle(document.body).backgroundColor;
"""

CSS = b"body { background-color: rgb(10, 200, 30); }\n"


def decode_png(data: bytes):
    """(width, height, list of pixel tuples) for 8-bit RGB/RGBA PNGs (what Chromium writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            width, height, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype in (2, 6), f"unexpected PNG format {depth}/{ctype}"
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = width * bpp
    prev = bytearray(stride)
    pixels = []
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        pixels.extend(tuple(line[i:i + 3]) for i in range(0, stride, bpp))
        prev = line
    return width, height, pixels


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--server", required=True)
    ap.add_argument("--mode", required=True, choices=["reactor", "proactor", "coroutine"])
    args = ap.parse_args()
    chromium = need_tool("chromium")
    tree = Tree()
    for name, data in (("index.html", PAGE), ("app.js", SCRIPT), ("style.css", CSS),
                       ("image.png", png(64, 64, (255, 0, 0)))):
        with open(os.path.join(tree.root, name), "wb") as f:
            f.write(data)
    server = Server(args.server, args.mode, tree.root)
    url = f"http://127.0.0.1:{server.port}/"
    profile = tempfile.mkdtemp(prefix="nioxx-chromium-")
    flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", "--disable-extensions", "--hide-scrollbars",
             f"--user-data-dir={profile}", "--window-size=800,600", "--virtual-time-budget=10000"]
    failures = []
    try:
        # One browser run: the DOM after load (stdout) and the screenshot.
        shot = os.path.join(profile, "shot.png")
        p = subprocess.run(flags + ["--dump-dom", f"--screenshot={shot}", url], capture_output=True,
                           text=True, timeout=180)
        dom = p.stdout
        log(f"chromium --dump-dom --screenshot: exit {p.returncode}, {len(dom)} bytes of DOM")
        for want in ("script ran", "image loaded 64", "css rgb(10, 200, 30)"):
            if want not in dom:
                failures.append(f"DOM lacks {want!r}")
        if not os.path.exists(shot):
            failures.append("no screenshot: " + p.stderr[-2000:])
        else:
            with open(shot, "rb") as f:
                width, height, pixels = decode_png(f.read())
            colours = set(pixels)
            red = sum(1 for r, g, b in pixels if r > 200 and g < 60 and b < 60)
            green = sum(1 for r, g, b in pixels if r < 40 and g > 170 and b < 70)
            log(f"screenshot {width}x{height}: {len(colours)} colours, {red} red (image), "
                f"{green} green (stylesheet) pixels")
            if len(colours) < 3:
                failures.append("blank screenshot")
            if red < 1000:
                failures.append("the image is not on the screenshot")
            if green < 1000:
                failures.append("the stylesheet's background is not on the screenshot")
        if failures and dom:
            print(dom)
    finally:
        code = server.stop()
        print("".join(server.output), end="")
        tree.cleanup()
        subprocess.run(["rm", "-rf", profile])
    if code != 0:
        failures.append(f"server exit code {code}")
    for f in failures:
        log("FAIL " + f)
    if not failures:
        log("PASS browser test")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
