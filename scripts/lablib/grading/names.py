"""Names from submissions are hostile: safe folder names for them, and text that is safe to show.

A team's name comes from a file or folder name a student chose. It may hold
``..``, ``/``-free tricks (``index.html``), ``:``, hundreds of characters,
accents, or terminal escape sequences. Everything the grader writes goes to
``out/teams/<folder>/`` with ``folder`` from :func:`folder_names`; every name
shown to a person (terminal, Markdown, HTML) goes through :func:`printable`.
"""

from __future__ import annotations

import re
import unicodedata

#: Longest team folder name (the collision suffix included).
FOLDER_MAX = 64
#: What a team folder may be made of.
FOLDER_CHARS = re.compile(r"[^A-Za-z0-9_-]+")
#: Folder name of a team whose name has no usable character.
FOLDER_FALLBACK = "team"
#: Unicode categories never shown as such: controls, format (bidi overrides), surrogates, private, unassigned.
HIDDEN_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
#: Longest name shown (the rest is cut, with an ellipsis).
SHOWN_MAX = 80
#: Characters that make Markdown links, table cells, code, HTML or emphasis.
MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|])")


def escaped(ch: str) -> str:
    return f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}"


def printable(name: str, limit: int = SHOWN_MAX, keep: str = "") -> str:
    """``name`` with every control or invisible formatting character (but those in ``keep``) written as
    an escape (``\\x1b``); cut at ``limit`` characters (0: never)."""
    shown = "".join(
        escaped(ch) if unicodedata.category(ch) in HIDDEN_CATEGORIES and ch not in keep else ch for ch in name
    )
    return shown if not limit or len(shown) <= limit else shown[: limit - 1] + "…"


def printable_text(text: str) -> str:
    """Several lines of someone else's text (a program's output, a checker message): lines and tabs kept."""
    return printable(text, limit=0, keep="\n\t")


def markdown(text: str) -> str:
    """Text that Markdown shows as it is (no link, table cell or emphasis made of it)."""
    return MARKDOWN_SPECIAL.sub(r"\\\1", text)


def folder_stem(name: str) -> str:
    """``[A-Za-z0-9_-]`` only: accents dropped (é -> e), anything else one ``_``, no leading/trailing ``_``/``-``."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    stem = FOLDER_CHARS.sub("_", ascii_name).strip("_-")
    return stem[:FOLDER_MAX] or FOLDER_FALLBACK


def folder_names(names: list[str]) -> list[str]:
    """A unique folder name for each of ``names`` (in order): the stem, numbered ``-2``, ``-3`` on a clash."""
    taken: set[str] = set()
    folders = []
    for name in names:
        stem = folder_stem(name)
        folder, n = stem, 1
        while folder.lower() in taken:  # case-insensitive: the out folder may be on such a filesystem
            n += 1
            suffix = f"-{n}"
            folder = stem[: FOLDER_MAX - len(suffix)] + suffix
        taken.add(folder.lower())
        folders.append(folder)
    return folders
