"""Merge keys (``<<``) resolved the same way whatever PyYAML is installed, and bounded.

:func:`merge_refusal` says why a mapping's merges must not be resolved (they expand beyond
:data:`~harness.scenario.yamllimits.MAX_NODES` values or nest deeper than
:data:`~harness.scenario.yamllimits.MAX_DEPTH`), without resolving them; :func:`merged_pairs`
then gives the pairs they bring in, in order of precedence, raising :class:`BadMerge` when
something other than a mapping is merged.
"""

from __future__ import annotations

import yaml

from harness.scenario.yamllimits import MAX_DEPTH, MAX_NODES

MERGE_TAG = "tag:yaml.org,2002:merge"


class BadMerge(Exception):
    def __init__(self, node: yaml.Node, message: str) -> None:
        super().__init__(message)
        self.node, self.message = node, message


def merged_pairs(node: yaml.MappingNode,
                  done: dict[int, list[tuple[yaml.Node, yaml.Node]]]) -> list[
                      tuple[yaml.Node, yaml.Node]]:
    """The pairs ``node``'s merge keys (``<<``) bring in, in order of precedence: of two
    merged mappings the one listed first wins, and a merged mapping's own merges are resolved
    first. ``node`` itself is left as it was.

    Our own rather than PyYAML's ``flatten_mapping``, which changes the nodes it resolves and
    whose results differ between releases (6.0.4 drops repeated keys and reverses which merge
    wins): what a scenario means must not depend on which PyYAML is installed. Sizes and depths
    are bounded by :func:`merge_refusal` before this runs."""
    merged: list[tuple[yaml.Node, yaml.Node]] = []
    for key_node, value_node in node.value:
        if key_node.tag != MERGE_TAG:
            continue
        sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
        for source in sources:
            if not isinstance(source, yaml.MappingNode):
                expected = ("a mapping for merging" if source is not value_node
                            else "a mapping or list of mappings for merging")
                raise BadMerge(source, f"expected {expected}, but found {source.id}")
            if id(source) not in done:
                done[id(source)] = []  # a mapping merged into itself adds nothing more
                done[id(source)] = [pair for pair in source.value
                                    if pair[0].tag != MERGE_TAG] + merged_pairs(source, done)
            merged.extend(done[id(source)])
    return merged


def merge_refusal(node: yaml.MappingNode) -> str | None:
    """Why ``node``'s merge keys (``<<: *a``) must not be resolved, if they must not: merged
    mappings that merge others can expand exponentially (nine copies of nine copies of ...),
    and PyYAML resolves a chain of merges recursively."""
    sizes: dict[int, tuple[int, int]] = {}  # id -> (pairs once merged, depth of merges)
    stack: list[tuple[yaml.MappingNode, bool]] = [(node, False)]
    while stack:
        current, ready = stack.pop()
        merged = [sub for key, value in current.value if key.tag == MERGE_TAG
                  for sub in (value.value if isinstance(value, yaml.SequenceNode) else [value])
                  if isinstance(sub, yaml.MappingNode)]
        if not ready:
            if id(current) in sizes:
                continue
            sizes[id(current)] = (0, 0)  # a mapping merged into itself adds nothing more
            stack.append((current, True))
            stack.extend((sub, False) for sub in merged if id(sub) not in sizes)
            continue
        own = sum(1 for key, _ in current.value if key.tag != MERGE_TAG)
        pairs = own + sum(sizes[id(sub)][0] for sub in merged)
        depth = max((sizes[id(sub)][1] + 1 for sub in merged), default=0)
        sizes[id(current)] = (min(pairs, MAX_NODES + 1), min(depth, MAX_DEPTH + 1))
    pairs, depth = sizes[id(node)]
    if depth > MAX_DEPTH:
        return f"merge keys (<<) nested deeper than {MAX_DEPTH} levels"
    if pairs > MAX_NODES:
        return (f"merge keys (<<) expand to more than {MAX_NODES:,} values (too many "
                "aliases or too large)")
    return None
