"""Per team: report.md, results.json (Gradescope), exchanges/; per class: summary.json, summary.md, index.html."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

from .config import Config
from .names import markdown, printable, printable_text
from .results import RoleResult, TeamResult, team_folder, team_link, verdicts

#: The end of a program's output shown in a report (all of it is in its log file).
OUTPUT_IN_REPORT = 1500
#: Characters of one exchange kept in its file, of all of a team's exchanges, and at least per file
#: (past the team's budget); and of an exchange in a Gradescope test's output.
EXCHANGE_MAX_CHARS = 64_000
TEAM_EXCHANGES_MAX_CHARS = 1_000_000
EXCHANGE_MIN_CHARS = 2_000
GRADESCOPE_EXCHANGE_CHARS = 8_000
#: Optional class-level reports other tools write into the out folder: linked from index.html when present.
CLASS_REPORTS = (("similar.html", "similarity report"),)


def render_exchange(case: Any, limit: int = EXCHANGE_MAX_CHARS) -> str:
    """The case's exchange as the checker prints it, anything the program sent made printable, at most
    ``limit`` characters (a flooding program's exchange is cut, and says so)."""
    from services.check.cli import render

    return capped(printable_text(render(case)), limit, "the whole traffic is in the role's pcap")


def capped(text: str, limit: int, where: str) -> str:
    """``text``, or its first ``limit`` characters and a line saying how much was cut and where the rest is."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n[... cut here: {len(text) - limit} more characters; {where}]"


def message(case: Any) -> str:
    return printable_text(case.message)


def fmt(x: float) -> str:
    """Points as people write them: 4.5, 5, 0.71 (scaled points are rounded to two places)."""
    return f"{round(x, 2):g}"


def write_team(out: Path, team: TeamResult) -> None:
    """The team's files; its exchanges together stay under TEAM_EXCHANGES_MAX_CHARS (later ones are cut)."""
    team_dir = team_folder(out, team.submission)
    exchanges = team_dir / "exchanges"
    exchanges.mkdir(parents=True, exist_ok=True)
    budget = TEAM_EXCHANGES_MAX_CHARS
    for role in team.roles:
        for case in role.cases:
            if not case.passed:
                name = f"{role.spec.role}.{case.name}.txt"
                text = exchange_text(team, role, case, limit=max(EXCHANGE_MIN_CHARS, min(EXCHANGE_MAX_CHARS, budget)))
                budget -= len(text)
                (exchanges / name).write_text(text)
                role.exchanges[case.name] = f"exchanges/{name}"
    (team_dir / "results.json").write_text(json.dumps(gradescope(team), indent=2) + "\n")
    (team_dir / "report.md").write_text(team_markdown(team))


def exchange_text(team: TeamResult, role: RoleResult, case: Any, limit: int = EXCHANGE_MAX_CHARS) -> str:
    text = [f"team {team.submission.team}, {role.spec.part} / {role.spec.role} [{case.level}]", ""]
    text += [render_exchange(case, limit), ""]
    text += [f"program: {note}" for note in role.notes()]
    if role.output:
        text += ["", f"--- the program's output (end; all of it in ../{role.log}) ---", role.output[-OUTPUT_IN_REPORT:]]
    return "\n".join(text) + "\n"


def gradescope(team: TeamResult) -> dict[str, Any]:
    """Gradescope's autograder results format: one test per case."""
    tests = []
    for role in team.roles:
        for case in role.cases:
            output = "passed" if case.passed else message(case)
            if not case.passed and case.transcript:
                output += "\n\n" + render_exchange(case, GRADESCOPE_EXCHANGE_CHARS)
            if not case.passed and role.notes():
                output += "\n\nprogram: " + "; ".join(role.notes())
            tests.append(
                {
                    "name": f"{part_title(team, role.spec.part_of(case.name))}: {case.name}",
                    "score": role.score(case),
                    "max_score": role.spec.points_of(case.name),
                    "status": "passed" if case.passed else "failed",
                    "output": output,
                }
            )
    doc: dict[str, Any] = {"score": team.score, "tests": tests}
    if team.error:
        doc["output"] = team.error
    return doc


def part_title(team: TeamResult, name: str) -> str:
    return next((p.title for p in team.parts if p.name == name and p.title), name)


def parts_table(team: TeamResult) -> list[str]:
    rows = ["| part | score |", "|---|---|"]
    for part in team.part_scores():
        bonus = " (bonus)" if part.part.bonus else ""
        rows.append(
            f"| {markdown(part_title(team, part.part.name))}{bonus} | {fmt(part.score)} / {fmt(part.max_score)} |"
        )
    return [*rows, ""]


def team_markdown(team: TeamResult) -> str:
    sub = team.submission
    lines = [f"# {markdown(sub.team)}: {fmt(team.score)} / {fmt(team.max_score)}", ""]
    lines += [f"Submission {markdown(printable(sub.submitted_as))}, graded in {team.seconds:g} s.", ""]
    if team.error:
        lines += [f"**{markdown(printable_text(team.error))}**", ""]
    lines += parts_table(team)
    lines += ["| part | role | program | score | capture |", "|---|---|---|---|---|"]
    for role in team.roles:
        state = "; ".join(["ran" if role.status == "ok" else role.status, *role.problems])
        pcap = f"[{role.pcap}]({role.pcap})" if role.pcap else "-"
        lines.append(
            f"| {role.spec.part} | {role.spec.role} | {state} | {fmt(role.total)} / {fmt(role.max_total)} | {pcap} |"
        )
    for role in team.roles:
        lines += ["", f"## {role.spec.part}: {role.spec.role} ({fmt(role.total)} / {fmt(role.max_total)})", ""]
        lines += [case_line(role, case) for case in role.cases]
        if role.output:
            shown = role.output[-OUTPUT_IN_REPORT:]
            lines += ["", f"Program output (end; [all of it]({role.log})):", "", *fenced(shown)]
    return "\n".join(lines) + "\n"


def fenced(text: str) -> list[str]:
    """A Markdown code block that ``text`` cannot end early: its fence is longer than any run of backticks in it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence, text, fence]


def case_line(role: RoleResult, case: Any) -> str:
    mark = "pass" if case.passed else ("not run" if not case.ran else "FAIL")
    line = f"- **{mark}** `{case.name}` ({fmt(role.score(case))}/{fmt(role.spec.points_of(case.name))})"
    if not case.passed:
        line += f": {message(case)}"
        if case.name in role.exchanges:
            line += f" ([exchange]({role.exchanges[case.name]}))"
    return line


def write_summary(
    out: Path, config: Config, teams: list[TeamResult], seconds: float, engine_faults: list[str] | None = None
) -> None:
    """``engine_faults``: what the engine kept that it could not remove (the run's note, no team's error)."""
    summary = {
        "config": config.source,
        "seconds": round(seconds, 1),
        "engine_faults": engine_faults or [],
        "teams": [
            {
                "team": t.submission.team,
                "folder": team_link(t.submission),
                "submitted_as": t.submission.submitted_as,
                "score": t.score,
                "max_score": t.max_score,
                "parts": {
                    p.part.name: {"score": p.score, "max_score": p.max_score, "bonus": p.part.bonus}
                    for p in t.part_scores()
                },
                "roles": {r.spec.role: {"score": r.total, "status": r.status, "problems": r.problems} for r in t.roles},
                "error": t.error,
            }
            for t in teams
        ],
        "verdicts": verdicts(teams),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "summary.md").write_text(summary_markdown(config, teams, seconds) + faults_markdown(engine_faults or []))
    (out / "index.html").write_text(summary_html(config, teams, seconds, class_reports(out)))


def class_reports(out: Path) -> list[tuple[str, str]]:
    """(file, title) of the optional class reports present in ``out`` (e.g. similar.html)."""
    return [(name, title) for name, title in CLASS_REPORTS if (out / name).is_file()]


def faults_markdown(faults: list[str]) -> str:
    if not faults:
        return ""
    lines = ["", f"Docker kept {len(faults)} network(s) it could not remove (an engine fault, no team's doing; "
             "the grades are complete): restart the engine to free them.", ""]  # fmt: skip
    return "\n".join(lines + [f"- {markdown(f)}" for f in faults]) + "\n"


def summary_markdown(config: Config, teams: list[TeamResult], seconds: float) -> str:
    head = ["team", "score", *(s.role for s in config.roles), "notes"]
    lines = [f"# Class results ({len(teams)} submissions, graded in {seconds:.0f} s)", ""]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for t in teams:
        link = f"[{markdown(t.submission.team)}]({team_link(t.submission)}/report.md)"
        cells = [link, f"{fmt(t.score)} / {fmt(t.max_score)}"]
        cells += [f"{fmt(r.total)}/{fmt(r.max_total)}" for r in t.roles]
        cells.append(markdown("; ".join(t.notes())))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


CSS = """body{font-family:system-ui,sans-serif;margin:1.5em}table{border-collapse:collapse;font-size:13px}
td,th{border:1px solid #ccc;padding:3px 6px;text-align:center}th.case{writing-mode:vertical-rl;
transform:rotate(180deg);white-space:nowrap;font-weight:normal}td.team{text-align:left}.pass{background:#dfd}
.fail{background:#fdd}.skip{background:#eee;color:#777}.note{text-align:left;font-size:12px;max-width:30em}"""


def case_cell(link_base: str, role: RoleResult, case: Any) -> str:
    e = html.escape
    if case.passed:
        return '<td class="pass">&#10003;</td>'
    css, mark = ("fail", "&#10007;") if case.ran else ("skip", "&ndash;")
    link = role.exchanges.get(case.name)
    shown = f'<a href="{e(link_base)}/{e(link)}" title="{e(message(case), quote=True)}">{mark}</a>' if link else mark
    pcap = f' <a href="{e(link_base)}/{e(role.pcap)}" title="capture">pcap</a>' if role.pcap else ""
    return f'<td class="{css}">{shown}{pcap}</td>'


def team_row(t: TeamResult) -> str:
    e = html.escape
    link_base = team_link(t.submission)
    cells = [f'<td class="team"><a href="{e(link_base)}/report.md">{e(t.submission.team)}</a></td>']
    cells.append(f"<td>{fmt(t.score)} / {fmt(t.max_score)}</td>")
    cells += [case_cell(link_base, r, c) for r in t.roles for c in r.cases]
    cells.append(f'<td class="note">{"<br>".join(e(n) for n in t.notes())}</td>')
    return "<tr>" + "".join(cells) + "</tr>"


def summary_html(
    config: Config, teams: list[TeamResult], seconds: float, reports: list[tuple[str, str]] | None = None
) -> str:
    """The class page; ``reports``: (file, title) of other class reports in the same folder, linked at the top."""
    e = html.escape
    specs = config.roles
    role_row = "".join(f'<th colspan="{len(s.cases())}">{e(s.part)}: {e(s.role)}</th>' for s in specs)
    case_row = "".join(f'<th class="case">{e(c)}</th>' for s in specs for c in s.cases())
    links = " ".join(f'<a href="{e(name)}">{e(title)}</a>' for name, title in reports or [])
    more = f"\n<p>Also: {links}</p>" if links else ""
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>socklab grades</title><style>{CSS}</style></head><body>
<h1>Class results</h1>
<p>{len(teams)} submissions, graded in {seconds:.0f} s with {e(config.source)}.
&#10003; passed, &#10007; failed (links to the exchange; pcap: that role's capture), &ndash; not run.</p>{more}
<table>
<tr><th rowspan="2">team</th><th rowspan="2">score</th>{role_row}<th rowspan="2">notes</th></tr>
<tr>{case_row}</tr>
{chr(10).join(team_row(t) for t in teams)}
</table></body></html>
"""
