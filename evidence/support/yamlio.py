"""YAML reading that refuses what PyYAML silently accepts, and knows line numbers.

PyYAML keeps the last of two equal mapping keys without a word; for a catalog or a manifest
that hides a typo (a duplicated activity id). Here a duplicate key is an error with its line.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from evidence.errors import InputError

if TYPE_CHECKING:  # the same interface; mypy cannot take a base class chosen at run time
    _BaseLoader = yaml.SafeLoader
else:  # the libyaml (C) loader where PyYAML was built with it
    _BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _StrictLoader(_BaseLoader):
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise _DuplicateKey(key, line, seen[key])
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


class _DuplicateKey(Exception):
    def __init__(self, key: Any, line: int, first_line: int):
        self.key, self.line, self.first_line = key, line, first_line


class YamlDocument:
    """Parsed YAML data plus the node tree, to point errors at a line."""

    def __init__(self, path: Path, data: Any, root: yaml.Node | None):
        self.path, self.data, self._root = path, data, root

    def line_of(self, location: Sequence[Any]) -> int | None:
        """1-based line of the value at `location` (keys and indexes), or of its nearest parent."""
        node = self._root
        line = node.start_mark.line + 1 if node is not None else None
        for step in location:
            if isinstance(node, yaml.MappingNode):
                match = next((v for k, v in node.value if str(k.value) == str(step)), None)
                if match is None:
                    break
                node = match
            elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
                node = node.value[step]
            else:
                break
            line = node.start_mark.line + 1
        return line


# Far beyond any catalog or manifest: a hostile file is refused before it exhausts the stack
# (deep nesting) or memory (aliases that expand exponentially, the "billion laughs").
MAX_DEPTH = 100
MAX_EXPANSION = 10  # values once aliases are expanded, per value written in the file
EXPANSION_ALLOWANCE = 100_000


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [child for pair in node.value for child in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _shape_problem(root: yaml.Node) -> str | None:
    """Depth and expanded size of the node graph, without recursion or expansion."""
    measured: dict[int, tuple[int, int]] = {}  # id(node) -> (values once expanded, depth)
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            sizes = [measured[id(child)] for child in _children(node)]
            depth = 1 + max((d for _, d in sizes), default=0)
            if depth > MAX_DEPTH:
                return f"nested more than {MAX_DEPTH} levels deep"
            measured[key] = (1 + sum(n for n, _ in sizes), depth)
            open_nodes.discard(key)
        elif key in open_nodes:
            return "an alias refers to a node that contains it"
        elif key not in measured:
            open_nodes.add(key)
            stack.append((node, True))
            stack.extend((child, False) for child in _children(node))
    if measured[id(root)][0] > MAX_EXPANSION * len(measured) + EXPANSION_ALLOWANCE:
        return "aliases expand to far more values than the file holds"
    return None


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


def load_yaml(path: Path) -> YamlDocument:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    loader = _StrictLoader(text)
    try:
        root = loader.get_single_node()
        problem = _shape_problem(root) if root is not None else None
        if problem:
            raise InputError(f"{path}: not accepted: {problem}")
        data = loader.construct_document(root) if root is not None else None
    except _DuplicateKey as dup:
        raise InputError(
            f"{path}: line {dup.line}: duplicate key {dup.key!r} (first at line {dup.first_line})"
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f": line {mark.line + 1}" if mark is not None else ""
        problem = exc.problem or exc.context or "syntax error"
        raise InputError(f"{path}{where}: not valid YAML: {problem}") from None
    except yaml.YAMLError as exc:  # a ReaderError's text spans lines: the error must stay one line
        raise InputError(f"{path}: not valid YAML: {_one_line(exc)}") from None
    except (ValueError, TypeError, AttributeError) as exc:  # 2020-13-45, !!int x, a list as a key
        raise InputError(f"{path}: not valid YAML: a value cannot be read ({_one_line(exc)})") from None
    finally:
        loader.dispose()
    return YamlDocument(path, data, root)
