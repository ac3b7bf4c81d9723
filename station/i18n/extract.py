"""A Babel extractor for the duty console page: `data-i18n` elements and its inline script.

babel.cfg names it as `station.i18n.extract:extract_page`; the script's `_("...")` calls go
through Babel's own JavaScript extractor.
"""

from __future__ import annotations

import io
import re
from collections.abc import Collection, Iterator, Mapping
from html.parser import HTMLParser
from typing import IO, Any

from babel.messages.extract import extract_javascript

Message = tuple[int, str, str, list[str]]
_ENGLISH = re.compile(r"[A-Za-z]{2,}")


class _Page(HTMLParser):
    """Collects translatable element texts and the inline scripts of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[tuple[int, str]] = []
        self.scripts: list[tuple[int, str]] = []
        self.untranslated: list[tuple[int, str]] = []  # English outside data-i18n elements
        self._open: list[tuple[str, bool]] = []
        self._buffer: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Note whether the element asks for translation."""
        if tag in {"input", "meta", "br", "img", "link"}:
            return
        self._open.append((tag, any(name == "data-i18n" for name, _ in attrs)))
        self._buffer = []

    def handle_data(self, data: str) -> None:
        """Keep text for the element being read."""
        self._buffer.append(data)
        inside = {tag for tag, _ in self._open}
        wanted = any(flag for _, flag in self._open)
        if not wanted and not inside & {"script", "style"} and _ENGLISH.search(data):
            self.untranslated.append((self.getpos()[0], data.strip()))

    def handle_endtag(self, tag: str) -> None:
        """Emit the text of a translatable element or a script."""
        if tag not in {opened for opened, _ in self._open}:
            return  # a stray end tag
        opened, wanted = self._open.pop()
        while opened != tag:  # elements left open (<li>, <p>) end with their parent
            opened, wanted = self._open.pop()
        text = "".join(self._buffer)
        self._buffer = []
        if opened == "script":
            self.scripts.append((self.getpos()[0] - text.count("\n"), text))
        elif wanted and text.strip():
            self.texts.append((self.getpos()[0], " ".join(text.split())))


def read_page(source: str) -> _Page:
    """Parse a page for its translatable texts and scripts."""
    page = _Page()
    page.feed(source)
    page.close()
    return page


def extract_page(
    fileobj: IO[bytes],
    keywords: Mapping[str, Any],
    comment_tags: Collection[str],
    options: dict[str, Any],
) -> Iterator[Message]:
    """Yield (line, function, message, comments) for Babel's extractor interface."""
    page = read_page(fileobj.read().decode(options.get("encoding", "utf-8")))
    for line, text in page.texts:
        yield line, "_", text, []
    for first_line, script in page.scripts:
        found = extract_javascript(
            io.BytesIO(script.encode()), keywords, comment_tags, {"encoding": "utf-8"}
        )
        for line, funcname, message, comments in found:
            if isinstance(message, str):
                yield first_line + line - 1, funcname, message, list(comments)
