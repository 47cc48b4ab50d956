"""The rewriting of a parsed template so that the work jinja runs as plain Python is counted.

:class:`Counted` rewrites a parsed template (before it is compiled) so that each loop turn and
each macro, call-block and block body charges its static cost to the render's budget, and
``~``, comparisons and slices call the sandbox's measuring methods (``shopper_*``); it also
refuses ``extends``, ``include`` and ``import``, as a message template uses no other template.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

from jinja2 import TemplateSyntaxError, nodes
from jinja2.visitor import NodeTransformer

from harness.scenario.sandbox_budget import CHARACTERS_PER_STEP


def _call(name: str, args: list[nodes.Expr], lineno: int) -> nodes.Call:
    return nodes.Call(nodes.EnvironmentAttribute(name, lineno=lineno), args, [], None, None,
                      lineno=lineno)


def _static_steps(body: Iterable[nodes.Node]) -> int:
    """What running ``body`` once costs, before any call in it: a step per node and per 100
    characters of text."""
    steps = 1
    for statement in body:
        for node in (statement, *statement.find_all(nodes.Node)):
            steps += 1
            if isinstance(node, nodes.TemplateData):
                steps += len(node.data) // CHARACTERS_PER_STEP
    return steps


class Counted(NodeTransformer):
    """Rewrite a parsed template so that each loop turn (also of a filtered or recursive
    loop) and each macro, call-block and block body charges its static cost, and ``~``,
    comparisons and slices, which jinja runs as plain Python, are measured."""

    def _charge_body(self, node: nodes.For | nodes.Macro | nodes.CallBlock | nodes.Block
                     ) -> None:
        steps = _static_steps(node.body)
        node.body.insert(0, nodes.ExprStmt(
            _call("shopper_charge", [nodes.Const(steps)], node.lineno), lineno=node.lineno))

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        self._charge_body(node)
        if node.test is not None:
            test = cast(nodes.Expr, node.test)
            node.test = _call("shopper_test", [nodes.Const(1), test], node.lineno)
        return node

    def visit_Macro(self, node: nodes.Macro) -> nodes.Node:
        self.generic_visit(node)
        self._charge_body(node)
        return node

    def visit_CallBlock(self, node: nodes.CallBlock) -> nodes.Node:
        self.generic_visit(node)
        self._charge_body(node)
        return node

    def visit_Block(self, node: nodes.Block) -> nodes.Node:
        self.generic_visit(node)
        self._charge_body(node)
        return node

    def _refuse(self, node: nodes.Node, tag: str) -> nodes.Node:
        raise TemplateSyntaxError(f"'{{% {tag} %}}' is not available: a message template "
                                  "cannot use other templates", node.lineno)

    def visit_Extends(self, node: nodes.Extends) -> nodes.Node:
        return self._refuse(node, "extends")

    def visit_Include(self, node: nodes.Include) -> nodes.Node:
        return self._refuse(node, "include")

    def visit_Import(self, node: nodes.Import) -> nodes.Node:
        return self._refuse(node, "import")

    def visit_FromImport(self, node: nodes.FromImport) -> nodes.Node:
        return self._refuse(node, "from ... import")

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return _call("shopper_concat", list(node.nodes), node.lineno)

    def visit_Compare(self, node: nodes.Compare) -> nodes.Node:
        self.generic_visit(node)
        args: list[nodes.Expr] = [node.expr]
        for operand in node.ops:
            args += [nodes.Const(operand.op), operand.expr]
        return _call("shopper_compare", args, node.lineno)

    def visit_Getitem(self, node: nodes.Getitem) -> nodes.Node:
        self.generic_visit(node)
        if not isinstance(node.arg, nodes.Slice):
            return node
        parts: list[nodes.Expr] = [part if part is not None else nodes.Const(None)
                 for part in (node.arg.start, node.arg.stop, node.arg.step)]
        return _call("shopper_slice", [node.node, *parts], node.lineno)
