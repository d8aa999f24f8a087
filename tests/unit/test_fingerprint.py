"""lablib.fingerprint: normalised tokens, winnowing, base subtraction, matching regions."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

from lablib import fingerprint as fp  # noqa: E402

GOOD = (ROOT / "tests" / "fixtures" / "students" / "Lab2_Good.py").read_text()

PROGRAM = '''
def total(prices, tax):
    """Sum with tax."""
    result = 0
    for price in prices:  # each item
        result += price * (1 + tax)
    return round(result, 2)
'''
RENAMED = """
def f(a,b):
    r=0
    for x in a:
        r+=x*(1+b)
    return round(r,2)
"""


def norms(source: str) -> list[str]:
    return fp.tokenise(source).norms


def test_names_literals_comments_and_layout_do_not_matter() -> None:
    # The docstring (after "def V ( V , V ) :") is one more string token: the rest is the same stream.
    assert norms(PROGRAM)[8] == "S"
    assert norms(PROGRAM)[:8] + norms(PROGRAM)[9:] == norms(RENAMED)
    assert norms("x = 'a'  # hi\n") == ["V", "=", "S"]
    assert norms("y = 3.5e2\n") == ["V", "=", "N"]


def test_keywords_and_operators_stay() -> None:
    assert norms("if a in b:\n    pass\n") == ["if", "V", "in", "V", ":", "pass"]


def test_token_offsets_point_into_the_source() -> None:
    source = "first = 1\n\nsecond = 'two'\n"
    spans = [source[t.start : t.end] for t in fp.tokenise(source).tokens]
    assert spans == ["first", "=", "1", "second", "=", "'two'"]


@pytest.mark.parametrize(
    ("source", "where"),
    [
        ('print "python 2"\n', "line 1"),
        ("def broken(:\n    pass\n", "line 1"),
        ("x = '''never closed\n", "line 1"),
        ("a\x00b = 1\n", "null bytes"),
    ],
)
def test_a_file_that_is_not_python_is_compared_as_text_and_says_so(source: str, where: str) -> None:
    tokens = fp.tokenise(source)
    assert tokens.mode == "text"
    assert tokens.note.startswith("does not parse as Python (")
    assert where in tokens.note
    assert tokens.note.endswith("compared as text")
    assert tokens.tokens  # still tokens to compare


def test_the_text_lexer_normalises_like_the_python_one() -> None:
    body = "def f(a):\n    return a + 1  # note\n"
    assert fp.tokenise(body + "print 'x'\n").norms[: len(norms(body))] == norms(body)


def test_empty_source() -> None:
    tokens = fp.tokenise("")
    assert (tokens.tokens, tokens.mode) == ((), "python")
    empty = fp.fingerprint(tokens)
    assert fp.compare(empty, fp.fingerprint(fp.tokenise(GOOD)), 10).similarity == 0.0


def test_winnowing_selects_what_the_paper_selects() -> None:
    # Schleimer, Wilkerson, Aiken (2003), figure 2: the hashes of "adorunrunrunadorunrun", window 4.
    hashes = [77, 74, 42, 17, 98, 50, 17, 98, 8, 88, 67, 39, 77, 74, 42, 17, 98]
    assert fp.winnow(hashes, 4) == [3, 6, 8, 11, 15]


def test_winnowing_edges() -> None:
    assert fp.winnow([], 4) == []
    assert fp.winnow([5, 3, 9], 8) == [1]  # fewer hashes than a window: its minimum
    assert fp.winnow([2, 2, 2], 2) == [1, 2]  # ties: the rightmost
    with pytest.raises(ValueError, match="window must be at least 1"):
        fp.winnow([1], 0)


@settings(max_examples=60, deadline=None)
@given(
    shared=st.lists(st.sampled_from("abcdefgh"), min_size=fp.K + fp.WINDOW - 1, max_size=40),
    left=st.lists(st.sampled_from("ABCD"), max_size=30),
    right=st.lists(st.sampled_from("WXYZ"), max_size=30),
)
def test_winnowing_guarantee_a_long_enough_common_run_shares_a_fingerprint(
    shared: list[str], left: list[str], right: list[str]
) -> None:
    one, two = fp.kgram_hashes(left + shared), fp.kgram_hashes(shared + right)
    kept_one = {one[i] for i in fp.winnow(one)}
    kept_two = {two[i] for i in fp.winnow(two)}
    assert kept_one & kept_two


def test_hashes_are_the_same_in_every_process() -> None:
    code = (
        "import sys; sys.path.insert(0, 'scripts'); from lablib import fingerprint as f; "
        "print(f.kgram_hashes(list('abcdefghijk')))"
    )
    runs = {
        subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(runs) == 1 and runs.pop().startswith("[")


def test_a_copy_renamed_and_reformatted_matches_in_full() -> None:
    one, two = fp.fingerprint(fp.tokenise(PROGRAM * 3)), fp.fingerprint(fp.tokenise(RENAMED * 3))
    result = fp.compare(one, two, 20)
    # All but the docstrings (3 of 99 tokens) and the first "def V ( V , V ) :": 8 tokens before a
    # docstring, shorter than min_tokens. 88 tokens matched.
    assert result.coverage == (pytest.approx(88 / 99), pytest.approx(88 / 96))


REORDERABLE = [
    "def area(w, h):\n    if w < 0 or h < 0:\n        raise ValueError('negative')\n    return w * h\n",
    "class Stack:\n    def __init__(self):\n        self.items = []\n\n"
    "    def push(self, x):\n        self.items.append(x)\n",
    "def mean(xs):\n    total = 0\n    for x in xs:\n        total += x\n    return total / len(xs) if xs else None\n",
]


def test_reordered_functions_match_region_by_region() -> None:
    one = fp.fingerprint(fp.tokenise("\n".join(REORDERABLE)))
    two = fp.fingerprint(fp.tokenise("\n".join(reversed(REORDERABLE))))
    result = fp.compare(one, two, 15)
    assert len(result.regions) == 3
    # A region grows past its function while the next one starts alike ("def V ( V"): the
    # few tokens it takes from the partner's region are not counted twice.
    assert min(result.coverage) > 0.9


def test_base_code_is_subtracted() -> None:
    template = "from socket import *\nserverSocket = socket(AF_INET, SOCK_DGRAM)\nserverSocket.bind(('', 12000))\n" * 2
    one = template + "def mine():\n    return [i * i for i in range(10) if i % 3]\n"
    two = template + "class Other:\n    def run(self, n):\n        while n:\n            n -= 1\n"
    plain = fp.compare(fp.fingerprint(fp.tokenise(one)), fp.fingerprint(fp.tokenise(two)), 10)
    assert plain.similarity > 0.5
    base = fp.base_hashes([fp.tokenise(template)])
    first, second = fp.fingerprint(fp.tokenise(one), base), fp.fingerprint(fp.tokenise(two), base)
    assert fp.compare(first, second, 10).regions == []
    assert first.own_tokens < len(first.tokens.tokens)


def test_matches_shorter_than_min_tokens_are_ignored() -> None:
    shared = "value = compute(alpha, beta, gamma) + other(delta) * 2\n"  # 17 tokens
    one = fp.fingerprint(fp.tokenise("a = 1\n" + shared + "while True:\n    break\n"))
    two = fp.fingerprint(fp.tokenise("def g():\n    pass\n" + shared))
    assert [r.length for r in fp.compare(one, two, 10).regions] == [17]
    assert fp.compare(one, two, 18).regions == []


def test_regions_never_overlap_on_either_side() -> None:
    half = GOOD[: len(GOOD) // 2]  # cut mid-function: not Python, so compared as text
    repeated = fp.fingerprint(fp.tokenise(GOOD + half))
    assert repeated.tokens.mode == "text"
    result = fp.compare(repeated, fp.fingerprint(fp.tokenise(GOOD)), 30)
    for side in ("a", "b"):
        spans = sorted((getattr(r, side), getattr(r, side) + r.length) for r in result.regions)
        assert all(end <= start for (_, end), (start, _) in zip(spans, spans[1:], strict=False))
    assert result.coverage[1] == 1.0


def test_a_one_megabyte_file() -> None:
    big = GOOD * (1_000_000 // len(GOOD) + 1)
    assert len(big.encode()) >= 1_000_000
    tokens = fp.tokenise(big)
    assert tokens.mode == "python"
    result = fp.compare(fp.fingerprint(tokens), fp.fingerprint(fp.tokenise(GOOD)), 30)
    assert result.coverage[1] == 1.0
    assert result.coverage[0] < 0.02


def test_a_file_of_more_distinct_symbols_than_characters_set_aside() -> None:
    symbols = [chr(c) for c in range(0xF0000, 0xF0000 + fp.MAX_CHARS + 10_000)]  # private use: not names
    assert all(re.fullmatch(r"[^\w\s]", c) for c in symbols)  # so the text lexer makes each a token of its own
    text = " ".join(symbols)
    one, two = fp.fingerprint(fp.tokenise(text)), fp.fingerprint(fp.tokenise(text + " x = 1"))
    assert one.tokens.mode == "text"
    assert len(set(one.text)) <= fp.MAX_CHARS + 1
    assert fp.compare(one, two, 30).coverage[0] == 1.0
