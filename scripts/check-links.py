#!/usr/bin/env python3
"""make check-links: every relative link of the repository's Markdown files resolves.

A link resolves when the file or directory it names exists (relative to the page that holds it)
and, when it carries a `#fragment` into a Markdown page, that page has a heading with that
GitHub-style anchor (lower-cased, punctuation dropped, spaces as hyphens, `-1`, `-2` for repeats)
or an explicit `id`/`name`. Links with a scheme (`https:`, `mailto:`) are not followed: the
check needs no network. Code spans and fenced code blocks are not links.

    scripts/check-links.py [FILE.md ...]   default: every *.md outside target/, .git/, node_modules/

Exits 1 and names each broken link (file:line) when any is found. Python's standard library only.
"""

import os
import re
import sys
import unicodedata
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parent.parent
SKIPPED_DIRS = {".git", "target", "node_modules"}

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
SETEXT_UNDERLINE = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
CODE_SPAN = re.compile(r"(`+)(?:.+?)\1", re.DOTALL)
# `[text](dest)`, `[text](<dest>)`, `[text](dest "title")`; images (`![alt](src)`) alike. The text
# may hold one level of brackets, as in `[`a[0]`](b)`.
INLINE_LINK = re.compile(r"\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*(<[^>]*>|[^\s()]*(?:\([^\s()]*\)[^\s()]*)*)")
REFERENCE_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")
HTML_ANCHOR = re.compile(r"""<[a-zA-Z][^>]*\s(?:id|name)\s*=\s*["']([^"']+)["']""")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading's text: what it renders to (no markup), lower-cased, every
    character but letters, digits, marks, `-` and `_` dropped, spaces turned into hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links and images: their text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML
    text = text.replace("`", "").replace("*", "")
    kept = []
    for ch in text.strip().lower():
        if ch == " ":
            kept.append("-")
        elif ch in "-_" or ch.isalnum() or unicodedata.category(ch).startswith("M"):
            kept.append(ch)
    return "".join(kept)


def prose_lines(path: Path):
    """(line number, text) of every line outside fenced code blocks."""
    fence = None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        opened = FENCE.match(line)
        if fence is None and opened:
            fence = opened.group(1)
            continue
        if fence is not None:
            if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence):
                fence = None
            continue
        yield number, line


def anchors(path: Path, cache: dict) -> set:
    """The anchors a Markdown page offers: its headings' slugs (repeats numbered) and explicit ids."""
    if path not in cache:
        found, seen, previous = set(), {}, None
        for _, line in prose_lines(path):
            found.update(HTML_ANCHOR.findall(line))
            heading = HEADING.match(line)
            text = heading.group(2) if heading else None
            if text is None and previous and previous.strip() and SETEXT_UNDERLINE.match(line):
                text = previous.strip()
            if text is not None:
                base = slug(text)
                count = seen.get(base, 0)
                seen[base] = count + 1
                found.add(base if count == 0 else f"{base}-{count}")
            previous = line
        cache[path] = found
    return cache[path]


def paragraphs(path: Path):
    """(first line number, text) of each run of non-blank prose lines: a link's text may wrap."""
    start, block = None, []
    for number, line in prose_lines(path):
        if line.strip():
            if not block or number != start + len(block):
                if block:
                    yield start, "\n".join(block)
                start, block = number, []
            block.append(line)
        elif block:
            yield start, "\n".join(block)
            block = []
    if block:
        yield start, "\n".join(block)


def links(path: Path):
    """(line number, destination) of every link and reference definition outside code."""
    for start, text in paragraphs(path):
        # Code spans blanked out, line breaks kept, so that offsets still give line numbers.
        text = CODE_SPAN.sub(lambda span: re.sub(r"[^\n]", " ", span.group(0)), text)
        for match in INLINE_LINK.finditer(text):
            yield start + text.count("\n", 0, match.start(1)), match.group(1)
        for offset, line in enumerate(text.split("\n")):
            definition = REFERENCE_DEFINITION.match(line)
            if definition:
                yield start + offset, definition.group(1)


def broken_links(page: Path, cache: dict):
    """What is wrong with each relative link of `page`, as (line, destination, reason)."""
    for number, destination in links(page):
        destination = destination.strip("<>")
        if not destination or SCHEME.match(destination) or destination.startswith("//"):
            continue
        target, _, fragment = destination.partition("#")
        target = unquote(target.split("?", 1)[0])
        resolved = (page.parent / target).resolve() if target else page
        if not resolved.exists():
            yield number, destination, "no such file"
        elif fragment and resolved.is_file() and resolved.suffix == ".md":
            if unquote(fragment) not in anchors(resolved, cache):
                yield number, destination, f"no heading with anchor #{fragment} in {relative(resolved)}"


def relative(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def markdown_files():
    for directory, subdirectories, files in os.walk(ROOT):
        subdirectories[:] = sorted(d for d in subdirectories if d not in SKIPPED_DIRS)
        for name in sorted(files):
            if name.endswith(".md"):
                yield Path(directory) / name


def main(arguments) -> int:
    pages = [Path(a).resolve() for a in arguments] or list(markdown_files())
    cache, broken, checked = {}, 0, 0
    for page in pages:
        for number, destination, reason in broken_links(page, cache):
            print(f"{relative(page)}:{number}: ({destination}) {reason}", file=sys.stderr)
            broken += 1
        checked += 1
    if broken:
        print(f"{broken} broken link(s) in {checked} Markdown file(s)", file=sys.stderr)
        return 1
    print(f"every relative link resolves in {checked} Markdown file(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
