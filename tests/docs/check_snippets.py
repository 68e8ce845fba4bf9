#!/usr/bin/env python3
"""Every C++ block of the given Markdown files is compiled code, or says it is not.

  check_snippets.py REPO_ROOT FILE.md...

A ```cpp block must start with one of:
  // excerpt of PATH      every other non-blank line of the block occurs in PATH (relative to
                          REPO_ROOT), in the same order (leading/trailing spaces ignored), so the
                          snippet is code the build compiles (the examples/ programs are built and
                          run by tests/install);
  // sketch (not compiled)  an outline on purpose; listed, not checked.
An unmarked block, a missing file or a line not found fails, naming the block's line.
"""
import pathlib
import re
import sys


def blocks(text):
    """(line number, [lines]) of each ```cpp block."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].strip() == "```cpp":
            start = i + 1
            j = start
            while j < len(lines) and lines[j].strip() != "```":
                j += 1
            yield start + 1, lines[start:j]
            i = j
        i += 1


def check_excerpt(root, path, body):
    source = root / path
    if not source.is_file():
        return f"excerpt of {path}: no such file"
    haystack = [line.strip() for line in source.read_text().splitlines()]
    at = 0
    for line in body:
        wanted = line.strip()
        if not wanted:
            continue
        try:
            at = haystack.index(wanted, at) + 1
        except ValueError:
            return f"excerpt of {path}: line not found (in this order): {wanted!r}"
    return None


def main():
    root = pathlib.Path(sys.argv[1])
    failures, checked, sketches = [], 0, 0
    for name in sys.argv[2:]:
        md = root / name
        for line_no, body in blocks(md.read_text()):
            head = body[0].strip() if body else ""
            where = f"{name}:{line_no}"
            excerpt = re.fullmatch(r"// excerpt of (\S+)", head)
            if excerpt:
                error = check_excerpt(root, excerpt[1], body[1:])
                if error:
                    failures.append(f"{where}: {error}")
                checked += 1
            elif head.startswith("// sketch (not compiled)"):
                sketches += 1
            else:
                failures.append(f"{where}: a cpp block must start with '// excerpt of PATH' "
                                "(checked against that compiled file) or '// sketch (not compiled)'")
    for failure in failures:
        print("FAIL:", failure)
    print(f"{checked} excerpts checked, {sketches} sketches, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
