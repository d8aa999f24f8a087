"""Fingerprints of programs for ``scripts/lab similar``: tokens, winnowing, matching regions. Pure: no files, no clock.

A program becomes a list of normalised tokens: every identifier is ``V``, every number ``N``,
every string ``S``; keywords and operators stay; comments, blank lines and indentation are
dropped. So renaming, deleting comments and reformatting change nothing. Every run of
``k`` tokens (a k-gram) is hashed with a fixed hash (blake2b: the same numbers on every
run and machine, unlike Python's salted ``hash``), and winnowing (Schleimer, Wilkerson,
Aiken, SIGMOD 2003: the smallest hash of every ``window`` consecutive ones) keeps a few of
them: any common run of at least ``k + window - 1`` tokens shares a kept hash. Because a
fingerprint is a set, reordering the functions does not hide them either.

Base code (the course's templates) is subtracted by hash: a fingerprint found anywhere in
the base is nobody's evidence, and tokens covered by a base k-gram are not counted.

A file that is not valid Python is still compared, by a plain text lexer with the same
normalisation, and says so in :attr:`Tokens.note`.
"""

from __future__ import annotations

import ast
import hashlib
import io
import keyword
import re
import tokenize
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

#: Tokens per k-gram: shorter runs are noise (``x = 0``, ``s.close()``).
K = 10
#: Winnowing window: a common run of K + WINDOW - 1 = 17 tokens or more is always seen.
WINDOW = 8
#: Positions of one fingerprint considered per file (a line repeated 500 times would otherwise pair 500 x 500).
MAX_POSITIONS = 16
#: Token kinds tokenize yields that carry no program text worth comparing.
LAYOUT = {
    tokenize.COMMENT,
    tokenize.NL,
    tokenize.NEWLINE,
    tokenize.INDENT,
    tokenize.DEDENT,
    tokenize.ENCODING,
    tokenize.ENDMARKER,
}
#: Python 3.12+ splits f-strings into parts; each whole f-string is one ``S`` like any string.
FSTRING_START = getattr(tokenize, "FSTRING_START", None)
FSTRING_END = getattr(tokenize, "FSTRING_END", None)

#: The text lexer for files that are not Python: comments, strings, names, numbers, operators as Python spells
#: them (so a file broken in one place still lines up with its copies that parse), any other character.
TEXT_TOKEN = re.compile(
    r"""(?P<comment>\#[^\n]*)
    |(?P<string>[rRbBuUfF]{0,2}(?:'''[\s\S]*?'''|\"\"\"[\s\S]*?\"\"\"|'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"))
    |(?P<name>[^\W\d]\w*)
    |(?P<number>0[xXoObB][0-9a-fA-F_]+|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d+)?[jJ]?)
    |(?P<op>\*\*=|//=|>>=|<<=|\.\.\.|->|:=|\*\*|//|==|!=|<=|>=|<<|>>|[-+*/%&|^@]=|[^\s\w])""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    norm: str  # V, N, S, a keyword or an operator
    start: int  # character offsets in the source
    end: int


@dataclass(frozen=True)
class Tokens:
    tokens: tuple[Token, ...]
    #: "python", or "text" when the source is not valid Python (then ``note`` says why).
    mode: str
    note: str = ""

    @property
    def norms(self) -> list[str]:
        return [t.norm for t in self.tokens]


def tokenise(source: str) -> Tokens:
    """``source`` as normalised tokens: as Python when it parses, else as text (and why)."""
    try:
        ast.parse(source)
        return Tokens(tuple(_python_tokens(source)), "python")
    except (SyntaxError, ValueError, RecursionError, MemoryError, tokenize.TokenError) as exc:
        note = f"does not parse as Python ({_describe(exc)}): compared as text"
        return Tokens(tuple(_text_tokens(source)), "text", note)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError) and exc.lineno:
        return f"line {exc.lineno}: {exc.msg}"
    return f"{type(exc).__name__}: {exc}"[:200]


def _python_tokens(source: str) -> Iterable[Token]:
    starts = _line_starts(source)

    def offset(pos: tuple[int, int]) -> int:
        return starts[pos[0] - 1] + pos[1]

    fstring_depth, fstring_start = 0, 0
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == FSTRING_START:
            if fstring_depth == 0:
                fstring_start = offset(tok.start)
            fstring_depth += 1
        elif tok.type == FSTRING_END:
            fstring_depth -= 1
            if fstring_depth == 0:
                yield Token("S", fstring_start, offset(tok.end))
        elif fstring_depth or tok.type in LAYOUT or not tok.string.strip():
            continue
        else:
            yield Token(_normalise(tok.type, tok.string), offset(tok.start), offset(tok.end))


def _normalise(kind: int, text: str) -> str:
    if kind == tokenize.NAME:
        return text if keyword.iskeyword(text) else "V"
    if kind == tokenize.NUMBER:
        return "N"
    if kind == tokenize.STRING:
        return "S"
    return text


def _line_starts(source: str) -> list[int]:
    """Offset of each line's first character, lines split at "\\n" as tokenize's readline splits them."""
    starts = [0]
    for line in io.StringIO(source):
        starts.append(starts[-1] + len(line))
    return starts


def _text_tokens(source: str) -> Iterable[Token]:
    for match in TEXT_TOKEN.finditer(source):
        kind, text = match.lastgroup, match.group()
        if kind == "comment":
            continue
        if kind == "name":
            norm = text if keyword.iskeyword(text) else "V"
        else:
            norm = {"string": "S", "number": "N"}.get(kind or "", text)
        yield Token(norm, match.start(), match.end())


# -- hashing and winnowing ------------------------------------------------------------------------------------


def kgram_hashes(norms: Sequence[str], k: int = K) -> list[int]:
    """A fixed 64-bit hash of every run of ``k`` tokens (position i: tokens i .. i+k-1)."""
    joined = [n.encode() for n in norms]
    return [
        int.from_bytes(hashlib.blake2b(b"\x1f".join(joined[i : i + k]), digest_size=8).digest(), "big")
        for i in range(len(norms) - k + 1)
    ]


def winnow(hashes: Sequence[int], window: int = WINDOW) -> list[int]:
    """Positions winnowing keeps: the rightmost smallest hash of each window, each position once, in order."""
    if window < 1:
        raise ValueError(f"window must be at least 1, not {window}")
    if not hashes:
        return []
    kept: list[int] = []
    for start in range(max(1, len(hashes) - window + 1)):
        span = hashes[start : start + window]
        low = min(span)
        pos = start + len(span) - 1 - span[::-1].index(low)
        if not kept or kept[-1] != pos:
            kept.append(pos)
    return kept


# -- one program's fingerprint ----------------------------------------------------------------------------------


@dataclass
class Fingerprint:
    """A program's normalised tokens, its kept fingerprints (hash -> positions) and which tokens are base code."""

    tokens: Tokens
    index: dict[int, list[int]]
    base: list[bool]  # per token: covered by a k-gram of the base code
    k: int = K
    norms: list[str] = field(init=False)
    #: The tokens as one string, a character per token: equal runs compare at C speed.
    text: str = field(init=False)

    def __post_init__(self) -> None:
        self.norms = self.tokens.norms
        self.text = "".join(_char(n) for n in self.norms)

    @property
    def own_tokens(self) -> int:
        """Tokens that are not base code: what a similarity is a share of."""
        return self.base.count(False)


#: One character per distinct normalised token: keywords, operators, V, N, S and a file
#: barrier per team file, a few thousand in a class. A hostile file of a million distinct
#: symbols (the text lexer's "any other character") shares one character past the limit,
#: so growing a match may join two of them; their hashes still differ.
_CHARS: dict[str, str] = {}
MAX_CHARS = 50_000
_RARE = chr(0x100 + MAX_CHARS)


def _char(norm: str) -> str:
    found = _CHARS.get(norm)
    if found is None:
        found = chr(0x100 + len(_CHARS)) if len(_CHARS) < MAX_CHARS else _RARE
        if len(_CHARS) < MAX_CHARS:
            _CHARS[norm] = found
    return found


def fingerprint(
    tokens: Tokens, base_hashes: frozenset[int] = frozenset(), k: int = K, window: int = WINDOW
) -> Fingerprint:
    hashes = kgram_hashes(tokens.norms, k)
    base = [False] * len(tokens.tokens)
    for i, h in enumerate(hashes):
        if h in base_hashes:
            base[i : i + k] = [True] * k
    index: dict[int, list[int]] = {}
    for pos in winnow(hashes, window):
        if hashes[pos] not in base_hashes:
            index.setdefault(hashes[pos], []).append(pos)
    return Fingerprint(tokens, index, base, k)


def base_hashes(programs: Iterable[Tokens], k: int = K) -> frozenset[int]:
    """Every k-gram of the base code (all of them, not only the winnowed: any of them may be kept in a submission)."""
    found: set[int] = set()
    for tokens in programs:
        found.update(kgram_hashes(tokens.norms, k))
    return frozenset(found)


# -- comparing two programs -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Region:
    """``length`` equal normalised tokens at ``a`` in the first program and ``b`` in the second."""

    a: int
    b: int
    length: int
    own: int  # of them, tokens that are not base code in the first program


@dataclass
class Comparison:
    regions: list[Region] = field(default_factory=list)
    coverage: tuple[float, float] = (0.0, 0.0)  # share of each program's own tokens inside the regions

    @property
    def similarity(self) -> float:
        return max(self.coverage)

    @property
    def longest(self) -> int:
        return max((r.own for r in self.regions), default=0)


def compare(first: Fingerprint, second: Fingerprint, min_tokens: int) -> Comparison:
    """The common regions of two programs with at least ``min_tokens`` own tokens, and how much of each they cover."""
    kept = _tile(_regions(first, second), first, second)
    kept = [r for r in kept if r.own >= min_tokens and _own(second, r.b, r.length) >= min_tokens]
    kept.sort(key=lambda r: r.a)
    coverage = (_covered(first, [(r.a, r.length) for r in kept]), _covered(second, [(r.b, r.length) for r in kept]))
    return Comparison(kept, coverage)


def _regions(first: Fingerprint, second: Fingerprint) -> list[Region]:
    """Shared fingerprints grown to the longest runs of equal tokens through them.

    Fingerprints unique in both programs go first; a later seed whose positions both lie
    in runs already grown is skipped (a repeated line would otherwise seed a run on every
    diagonal it repeats on, and growing each costs time and finds nothing new).
    """
    seeds = sorted(
        (len(pa) * len(pb), b - a, a)
        for h in first.index.keys() & second.index.keys()
        for pa, pb in [(first.index[h][:MAX_POSITIONS], second.index[h][:MAX_POSITIONS])]
        for a in pa
        for b in pb
    )
    covered_a, covered_b = bytearray(len(first.text)), bytearray(len(second.text))
    regions: list[Region] = []
    for _, diagonal, a in seeds:
        b = a + diagonal
        if covered_a[a] and covered_b[b]:
            continue
        region = _grow(first, second, a, b, first.k)
        regions.append(region)
        covered_a[region.a : region.a + region.length] = b"\x01" * region.length
        covered_b[region.b : region.b + region.length] = b"\x01" * region.length
    return regions


def _grow(first: Fingerprint, second: Fingerprint, a: int, b: int, k: int) -> Region:
    """The longest run of equal tokens through the k-gram at (a, b)."""
    x, y = first.text, second.text
    end = k + _common(lambda n: x[a + k : a + k + n] == y[b + k : b + k + n], min(len(x) - a, len(y) - b) - k)
    back = _common(lambda n: x[a - n : a] == y[b - n : b], min(a, b))
    return Region(a - back, b - back, back + end, _own(first, a - back, back + end))


def _common(equal: Callable[[int], bool], most: int) -> int:
    """The largest n <= most with equal(n), for equal true up to some n and false after: doubling, then halving."""
    if most <= 0 or not equal(1):
        return 0
    low, high = 1, 2
    while high <= most and equal(high):
        low, high = high, high * 2
    high = min(high, most + 1)  # equal(low) holds; equal(high) fails or is past the end
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if equal(mid) else (low, mid)
    return low


def _own(fp: Fingerprint, start: int, length: int) -> int:
    return fp.base[start : start + length].count(False)


def _tile(regions: list[Region], first: Fingerprint, second: Fingerprint) -> list[Region]:
    """Longest first, each token of either program in one region at most (greedy string tiling's rule).

    Two regions grown on different diagonals may share a few tokens at their ends (a common
    ``)`` or ``V``): the later one is cut to its stretches that are still free, not dropped.
    """
    used_a, used_b = bytearray(len(first.norms)), bytearray(len(second.norms))
    kept = []
    for r in sorted(set(regions), key=lambda r: (-r.own, -r.length, r.a, r.b)):
        if used_a.find(1, r.a, r.a + r.length) < 0 and used_b.find(1, r.b, r.b + r.length) < 0:
            pieces = [(0, r.length)]  # all free: the common case, checked at C speed
        else:
            pieces = _free_runs(used_a, used_b, r)
        for offset, run in pieces:
            if run >= first.k:
                a, b = r.a + offset, r.b + offset
                used_a[a : a + run] = b"\x01" * run
                used_b[b : b + run] = b"\x01" * run
                kept.append(r if run == r.length else Region(a, b, run, _own(first, a, run)))
    return kept


def _free_runs(used_a: bytearray, used_b: bytearray, r: Region) -> list[tuple[int, int]]:
    """(offset, length) of each stretch of ``r`` where neither side is used yet."""
    either = int.from_bytes(used_a[r.a : r.a + r.length], "big") | int.from_bytes(used_b[r.b : r.b + r.length], "big")
    return [(m.start(), m.end() - m.start()) for m in FREE.finditer(either.to_bytes(r.length, "big"))]


FREE = re.compile(b"\x00+")


def _covered(fp: Fingerprint, spans: list[tuple[int, int]]) -> float:
    own = fp.own_tokens
    if not own:
        return 0.0
    return sum(_own(fp, start, length) for start, length in spans) / own
