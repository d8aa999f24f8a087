"""similar.html and one side-by-side page per pair worth a look, for ``scripts/lab similar``.

similar.html lists the pairs, flagged first (the report's order puts them there: most
similar first). A pair's page (pairs/NNN-A--B.html) shows the two programs side by side;
each matching region is a link to its partner in the other program (match 3 on the left
is ``#a3``, its partner on the right ``#b3``), coloured alike, outlined when it is the
target. Plain HTML and CSS: no script, nothing fetched, so it opens from a folder.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lablib.similar import Pair, Report, Team

PAIRS_DIR = "pairs"
COLOURS = 6
#: Side-by-side pages written at most (flagged pairs first): a class of copies must not write gigabytes.
MAX_PAGES = 200
#: Pages for the most similar pairs that are not flagged (a look below the threshold).
UNFLAGGED_PAGES = 30
CSS = """body{font-family:system-ui,sans-serif;margin:1.2em}table{border-collapse:collapse;font-size:14px}
td,th{border:1px solid #ccc;padding:3px 8px}td.num{text-align:right}tr.flagged{background:#fde8e8}
.note{color:#555;font-size:13px}.sides{display:grid;grid-template-columns:1fr 1fr;gap:10px}
.pane{height:78vh;overflow:auto;border:1px solid #bbb}.pane h2{font-size:15px;margin:0;padding:4px 8px;
background:#eee;position:sticky;top:0}.pane h3{font-size:13px;margin:6px 8px}pre{margin:0 8px;font-size:12px;
line-height:1.35}.ln{display:inline-block;width:3.5em;color:#999;user-select:none}a.match{color:inherit;
text-decoration:none}a.match:target{outline:2px solid #000}.m0{background:#ffe08a}.m1{background:#a8e6a1}
.m2{background:#a9d4ff}.m3{background:#f7b6e1}.m4{background:#c9b8ff}.m5{background:#ffc39e}"""


def write(report: Report, out: Path) -> None:
    pages = page_names(report)
    (out / PAIRS_DIR).mkdir(exist_ok=True)
    for pair, name in pages.items():
        (out / PAIRS_DIR / name).write_text(pair_page(report, pair))
    (out / "similar.html").write_text(index_page(report, pages))


def page_names(report: Report) -> dict[Pair, str]:
    """The pairs that get a page: every flagged pair, and the most similar others with a match."""
    chosen = [p for p in report.pairs if p.flagged]
    chosen += [p for p in report.pairs if not p.flagged and p.result.regions][:UNFLAGGED_PAGES]
    chosen = chosen[:MAX_PAGES]
    return {p: f"{i:03d}-{p.first.slug}--{p.second.slug}.html" for i, p in enumerate(chosen, 1)}


def _head(title: str) -> str:
    return (
        f'<!doctype html>\n<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{CSS}</style></head><body>\n"
    )


def index_page(report: Report, pages: dict[Pair, str]) -> str:
    e = html.escape
    s = report.settings
    flagged = sum(p.flagged for p in report.pairs)
    rows = []
    for p in report.pairs:
        if not p.result.regions and not p.flagged:
            continue
        name = pages.get(p)
        label = f"{e(p.first.name)} &harr; {e(p.second.name)}"
        link = f'<a href="{PAIRS_DIR}/{e(name)}">{label}</a>' if name else label
        cov = " / ".join(f"{c:.2f}" for c in p.result.coverage)
        rows.append(
            f'<tr class="{"flagged" if p.flagged else ""}"><td>{link}</td><td class="num">{p.similarity:.2f}</td>'
            f'<td class="num">{cov}</td><td class="num">{p.result.longest}</td>'
            f'<td class="num">{len(p.result.regions)}</td><td>{"flagged" if p.flagged else ""}</td></tr>'
        )
    notes = [f"{t.name}: {n}" for t in report.teams + report.against for n in t.notes]
    base = ", ".join(e(p.name) for p in report.base) or "none"
    quiet = len(report.pairs) - len(rows)
    return (
        _head("socklab: similar code")
        + f"""<h1>Similar code</h1>
<p>{len(report.teams)} teams{f" and {len(report.against)} earlier submissions" if report.against else ""},
{len(report.pairs)} pairs, <b>{flagged} flagged</b>: similarity &ge; {s.threshold} counting only matches of
&ge; {s.min_match_tokens} tokens ({e(s.source)}). Base code subtracted: {base}.
Similarity is the larger of the two shares: how much of each program's own code (base code left out)
lies in a match. A flag is a reason to look at the two programs side by side, not a verdict.</p>
<table id="pairs"><tr><th>pair</th><th>similarity</th><th>coverage (first / second)</th><th>longest match (tokens)</th>
<th>matches</th><th></th></tr>
{chr(10).join(rows)}
</table>
<p class="note">{quiet} pairs share no match of {s.min_match_tokens} tokens or more and are not listed.
{_capped(report, pages)}</p>
{"<h2>Notes</h2><ul>" + "".join(f"<li>{e(n)}</li>" for n in notes) + "</ul>" if notes else ""}
</body></html>
"""
    )


def _capped(report: Report, pages: dict[Pair, str]) -> str:
    flagged = sum(p.flagged for p in report.pairs)
    if flagged <= len(pages) or len(pages) < MAX_PAGES:
        return ""
    return f"Side-by-side pages for the first {MAX_PAGES} of {flagged} flagged pairs only; similar.json has all."


def pair_page(report: Report, pair: Pair) -> str:
    e = html.escape
    items = []
    for i, r in enumerate(pair.result.regions, 1):
        a, b = _lines(pair.first, r.a, r.length), _lines(pair.second, r.b, r.length)
        items.append(
            f'<li><a class="m{(i - 1) % COLOURS}" href="#a{i}">{e(a)}</a> &harr; '
            f'<a class="m{(i - 1) % COLOURS}" href="#b{i}">{e(b)}</a> ({r.own} tokens)</li>'
        )
    title = f"{pair.first.name} and {pair.second.name}"
    flag = "flagged" if pair.flagged else "not flagged"
    return (
        _head(f"similar: {title}")
        + f"""<p><a href="../similar.html">&larr; all pairs</a></p>
<h1>{e(title)}</h1>
<p>similarity {pair.similarity:.2f} ({flag}); coverage {pair.result.coverage[0]:.2f} of {e(pair.first.name)},
{pair.result.coverage[1]:.2f} of {e(pair.second.name)}. Each coloured region is a match: click it to see its
partner on the other side.</p>
<ol id="matches">{"".join(items)}</ol>
<div class="sides">
{_pane(pair.first, "a", [(r.a, r.length) for r in pair.result.regions], "b")}
{_pane(pair.second, "b", [(r.b, r.length) for r in pair.result.regions], "a")}
</div>
</body></html>
"""
    )


def _lines(team: Team, start: int, length: int) -> str:
    from lablib.similar import span

    where = span(team, start, length)
    return f"{where['file']} lines {where['lines'][0]}-{where['lines'][1]}"


def _pane(team: Team, side: str, regions: list[tuple[int, int]], other: str) -> str:
    """One program, its files one after another, each region a link (id side+N) to the partner (other+N)."""
    e = html.escape
    by_file: dict[int, list[tuple[int, int, int]]] = {}
    for i, (start, length) in enumerate(regions, 1):
        tokens = team.tokens.tokens
        by_file.setdefault(team.token_file[start], []).append((tokens[start].start, tokens[start + length - 1].end, i))
    parts = [f'<div class="pane" id="pane-{side}"><h2>{e(team.name)}</h2>']
    for index, source in enumerate(team.files):
        parts.append(f"<h3>{e(source.name)}</h3>")
        parts.append(f"<pre>{_numbered(_marked(source.text, sorted(by_file.get(index, [])), side, other))}</pre>")
    if not team.files:
        parts.append('<p class="note">no .py file</p>')
    parts.append("</div>")
    return "\n".join(parts)


def _marked(text: str, marks: list[tuple[int, int, int]], side: str, other: str) -> str:
    out, at = [], 0
    for start, end, i in marks:
        out.append(html.escape(text[at:start]))
        out.append(
            f'<a class="match m{(i - 1) % COLOURS}" id="{side}{i}" href="#{other}{i}" title="match {i}">'
            f"{html.escape(text[start:end])}</a>"
        )
        at = end
    out.append(html.escape(text[at:]))
    return "".join(out)


def _numbered(marked: str) -> str:
    lines = marked.split("\n")
    return "\n".join(f'<span class="ln">{n}</span>{line}' for n, line in enumerate(lines, 1))
