"""Reading the TA's YAML strictly: every value checked, every error naming its key and line."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class GradeError(Exception):
    """A problem with the grader's input (config, folder): reported to the TA, nothing is run."""


class Where:
    """Turns a key path into ``file:line: a/b/c`` using the YAML nodes' marks."""

    def __init__(self, path: Path, lines: dict[tuple[str, ...], int]) -> None:
        self.path, self.lines = path, lines

    def __call__(self, *keys: str) -> str:
        line = next((self.lines[keys[:n]] for n in range(len(keys), 0, -1) if keys[:n] in self.lines), 1)
        return f"{self.path}:{line}: {'/'.join(keys) or '(top)'}"


def _key_lines(node: Any, prefix: tuple[str, ...], out: dict[tuple[str, ...], int]) -> None:
    import yaml

    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            path = (*prefix, str(key.value))
            out[path] = key.start_mark.line + 1
            _key_lines(value, path, out)


def read_yaml(path: Path) -> tuple[Any, Where]:
    import yaml

    try:
        text = path.read_text()
        data = yaml.safe_load(text)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise GradeError(f"cannot read {path}: {exc}") from exc
    lines: dict[tuple[str, ...], int] = {}
    _key_lines(node, (), lines)
    return data, Where(path, lines)


def mapping(value: Any, at: Where, keys: tuple[str, ...], known: tuple[str, ...] | None = None) -> dict[str, Any]:
    """``value`` (at ``keys``) as a mapping with string keys, each in ``known`` if given."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise GradeError(f"{at(*keys)}: expected a mapping, got {type(value).__name__}")
    if known is not None:
        unknown = sorted(str(k) for k in value if k not in known)
        if unknown:
            raise GradeError(f"{at(*keys, unknown[0])}: unknown key (known: {', '.join(known)})")
    return {str(k): v for k, v in value.items()}


def number(value: Any, where: str, bounds: tuple[float, float], kind: type = float) -> Any:
    """``value`` as ``kind`` (float or int) within ``bounds`` (inclusive)."""
    whole = kind is not int or (isinstance(value, int | float) and float(value).is_integer())
    if isinstance(value, bool) or not isinstance(value, int | float) or not whole:
        raise GradeError(f"{where}: expected {'a whole number' if kind is int else 'a number'}, got {value!r}")
    low, high = bounds
    if not low <= value <= high:
        raise GradeError(f"{where}: {value!r} is out of range ({low:g} to {high:g})")
    return kind(value)


def numbers(section: dict[str, Any], ranges: dict[str, tuple[float, float]], kinds: dict[str, type],
            at: Where, key: str) -> dict[str, Any]:  # fmt: skip
    """Each value of ``section`` checked against its range and type."""
    return {k: number(v, at(key, k), ranges[k], kinds[k]) for k, v in section.items()}


def text(value: Any, where: str, max_chars: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > max_chars:
        raise GradeError(f"{where}: expected a non-empty text of at most {max_chars} characters")
    return value


def text_list(value: Any, where: str, max_items: int, max_chars: int) -> tuple[str, ...]:
    """A list of short texts (numbers are taken as written: ``- 2`` is ``"2"``)."""
    if not isinstance(value, list) or len(value) > max_items:
        raise GradeError(f"{where}: expected a list of at most {max_items} lines")
    lines = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise GradeError(f"{where}: {item!r} is not a line of text")
        line = str(item)
        if len(line) > max_chars or "\n" in line:
            raise GradeError(f"{where}: {line[:40]!r}... is not one line of at most {max_chars} characters")
        lines.append(line)
    return tuple(lines)
