"""YAML reading that refuses what PyYAML silently accepts, and knows line numbers.

PyYAML keeps the last of two equal mapping keys without a word; for a catalog or a manifest
that hides a typo (a duplicated activity id). Here a duplicate key is an error with its line.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from evidence.errors import InputError

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _StrictLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
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
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not valid YAML: {exc}") from None
    finally:
        loader.dispose()
    return YamlDocument(path, data, root)
