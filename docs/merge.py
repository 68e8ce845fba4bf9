#!/usr/bin/env python3
"""Rebuilds docs/ARCHITECTURE.md from its intro and the module parts in docs/parts/.

ARCHITECTURE.md = everything before its first "## core" heading + docs/parts/core.md +
docs/parts/reactor.md + docs/parts/proactor.md, each part's headings pushed down to sit under the
"# nioxx architecture" title (code blocks untouched). Edit the parts, then run: python3 docs/merge.py
"""
import pathlib

DOCS = pathlib.Path(__file__).resolve().parent
PARTS = ["core.md", "reactor.md", "proactor.md"]


def demote(text):
    """Makes the part's top heading a level-2 heading, shifting the rest alike."""
    lines = text.rstrip().splitlines()
    top = min((len(l) - len(l.lstrip("#")) for l in lines if l.startswith("#")), default=2)
    shift = 2 - top
    out, in_code = [], False
    for line in lines:
        if line.startswith("```"):
            in_code = not in_code
        if not in_code and line.startswith("#") and shift > 0:
            line = "#" * shift + line
        out.append(line)
    return "\n".join(out)


def main():
    arch = DOCS / "ARCHITECTURE.md"
    text = arch.read_text()
    intro = text[: text.index("\n## core")].rstrip()
    parts = [demote((DOCS / "parts" / p).read_text()) for p in PARTS]
    arch.write_text("\n\n".join([intro, *parts]) + "\n")
    print(f"wrote {arch}")


if __name__ == "__main__":
    main()
