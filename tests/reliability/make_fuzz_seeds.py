"""Writes the seed corpus of fuzz/hello/hello_fuzz.cpp from the hostile corpus (inputs up to
8 KiB), each under two configurations: default limits, and an output cap of 1 byte (every reply
pauses the input). Byte 0 = config (bits 0-1 maxFrame: 16/64/300/65536; bits 2-3 outputCap:
1/64/1024/256K), byte 1 = read/write size seed, then the stream.

Run: python3 tests/reliability/make_fuzz_seeds.py fuzz/hello/corpus
"""

import pathlib
import sys

import hostile_corpus


def main() -> int:
    out = pathlib.Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    n = 0
    for c in hostile_corpus.corpus():
        if len(c.data) > 8192:
            continue
        for cfg, seed in ((0x0F, 1), (0x03, 7), (0x01, 3)):
            (out / f"{c.name}-{cfg:02x}").write_bytes(bytes([cfg, seed]) + c.data)
            n += 1
    print(f"{n} seeds in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
