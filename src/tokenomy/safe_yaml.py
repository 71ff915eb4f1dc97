"""YAML for files a user hands us: size and alias limits, duplicate keys rejected, errors with the line."""

from __future__ import annotations

from typing import Any

import yaml

MAX_BYTES = 1_000_000  # a scenario is a few kB
MAX_ALIASES = 200  # anchors are for sharing a block or two, not for building documents
MAX_NODES = 200_000  # nodes after expanding every alias (an alias "bomb" grows ×N per level)
MAX_DEPTH = 64  # nesting of lists and mappings


class YamlError(ValueError):
    """YAML that cannot be used; the message names the file and the line."""


class _Loader(yaml.SafeLoader):
    """SafeLoader that counts aliases while composing and refuses duplicate mapping keys."""

    def __init__(self, stream: str, where: str):
        super().__init__(stream)
        self.where = where
        self.aliases = 0
        self.depth = 0

    def compose_node(self, parent, index):  # noqa: D102 - PyYAML hook
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                mark = self.peek_event().start_mark
                raise YamlError(
                    f"{self.where}: line {mark.line + 1}: more than {MAX_ALIASES} aliases (*name); write the values out"
                )
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise YamlError(
                    f"{self.where}: line {mark.line + 1}: nested more than {MAX_DEPTH} levels deep"
                )
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_mapping(self, node, deep=False):  # noqa: D102 - PyYAML hook
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:
                    continue  # unhashable key: PyYAML reports it below
                line = key_node.start_mark.line + 1
                if first is not None:
                    raise YamlError(
                        f"{self.where}: line {line}: duplicate key '{key}' (first on line {first})"
                    )
                seen[key] = line
        return super().construct_mapping(node, deep=deep)


def _expanded_size(root: yaml.Node, where: str) -> int:
    """Nodes in the document with every alias expanded (memoized, so linear in the composed graph)."""
    sizes: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        sizes[key] = 1  # a recursive alias counts once (PyYAML rejects recursion in safe_load anyway)
        if isinstance(node, yaml.MappingNode):
            total = 1 + sum(size(k) + size(v) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            total = 1 + sum(size(v) for v in node.value)
        else:
            total = 1
        if total > MAX_NODES:
            raise YamlError(
                f"{where}: line {node.start_mark.line + 1}: expands to more than {MAX_NODES:,} values "
                "through aliases (*name); write the values out"
            )
        sizes[key] = total
        return total

    return size(root)


def load_yaml(text: str, where: str = "YAML") -> tuple[Any, yaml.Node | None]:
    """Parse untrusted YAML: the data and its node tree (for line numbers). Raises YamlError."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise YamlError(f"{where}: larger than {MAX_BYTES // 1000:,} kB; not a tokenomy file")
    loader = None
    try:
        loader = _Loader(text, where)  # the reader rejects control characters here
        root = loader.get_single_node()
        if root is None:
            return None, None
        _expanded_size(root, where)
        return loader.construct_document(root), root
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise YamlError(
            f"{where}: line {line}: a control character (#x{exc.character:02x}) YAML forbids"
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}:" if mark else ""
        raise YamlError(f"{where}:{line} not valid YAML ({getattr(exc, 'problem', None) or exc})") from None
    except RecursionError:  # pragma: no cover - MAX_DEPTH stops nesting long before
        raise YamlError(f"{where}: nested too deeply") from None
    finally:
        if loader is not None:
            loader.dispose()
