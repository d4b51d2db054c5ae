"""From an expression string to a `Signature` tree; cached by string.

Grammar (whitespace between tokens is free; `...` binds to the item just before it when
no space separates them, and stands alone otherwise):

    signature := operands ["->" operands]
    operands  := expr ("," expr)*
    expr      := item*
    item      := (NAME | NUMBER | "(" expr ("+" expr)* ")" | "[" expr ["->" expr] "]") ["..."]
               | "..."
"""

from __future__ import annotations

import functools
import re

from ._errors import NotationSyntaxError
from ._syntax import (
    ANONYMOUS,
    Arrow,
    Axis,
    Concat,
    Ellipsis_,
    Group,
    Number,
    Signature,
    Spread,
    walk,
)

_TOKEN = re.compile(r"\s*(?:([A-Za-z_][A-Za-z0-9_]*)|([0-9]+)|(->|\.\.\.|[()\[\],+]))")


def _tokenize(text):
    tokens = []  # (kind, value, start, stop, glued_to_previous)
    position = 0
    previous_stop = -1
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            if text[position:].strip() == "":
                break
            bad = position + len(text[position:]) - len(text[position:].lstrip())
            raise NotationSyntaxError(
                f"unexpected character {text[bad]!r}: an expression holds axis names, numbers, "
                "( ), [ ], +, ',', -> and ...",
                text,
                (bad, bad + 1),
            )
        name, number, symbol = match.groups()
        start = match.start(1 if name else 2 if number else 3)
        glued = start == previous_stop
        if name:
            tokens.append(("name", name, start, match.end(), glued))
        elif number:
            tokens.append(("number", int(number), start, match.end(), glued))
        else:
            tokens.append((symbol, symbol, start, match.end(), glued))
        previous_stop = match.end()
        position = match.end()
    return tokens


MAX_DEPTH = 32  # nested parentheses and brackets; deeper would only exhaust the stack


class _Parser:
    def __init__(self, text):
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0
        self.depth = 0

    def error(self, reason, span):
        raise NotationSyntaxError(reason, self.text, span)

    def peek(self):
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self):
        token = self.tokens[self.index]
        self.index += 1
        return token

    def signature(self):
        inputs, input_spans = self.operands()
        outputs = output_spans = None
        token = self.peek()
        if token is not None and token[0] == "->":
            self.take()
            outputs, output_spans = self.operands()
        inputs, input_spans, outputs, output_spans = _desugar_spreads(
            self, inputs, input_spans, outputs, output_spans)
        token = self.peek()
        if token is not None:
            kind = token[0]
            if kind in (")", "]"):
                self.error(f"unbalanced {kind!r}: it closes nothing", token[2:4])
            if kind == "->":
                self.error("a second '->': an expression has one arrow", token[2:4])
            self.error(f"unexpected {token[1]!r}", token[2:4])
        return Signature(tuple(inputs), None if outputs is None else tuple(outputs), self.text,
                         tuple(input_spans), None if output_spans is None else tuple(output_spans))

    def operands(self):
        expressions, spans = [], []
        while True:
            start = self.position()
            expressions.append(self.expression(bracketed=False, closers=(",", "->")))
            spans.append((start, max(start + 1, self.last_stop())))
            token = self.peek()
            if token is None or token[0] != ",":
                return expressions, spans
            self.take()

    def position(self):
        token = self.peek()
        return token[2] if token is not None else len(self.text)

    def last_stop(self):
        return self.tokens[self.index - 1][3] if self.index else 0

    def expression(self, bracketed, closers):
        items = []
        while True:
            token = self.peek()
            if token is None or token[0] in closers or token[0] in (")", "]", "+", ",", "->"):
                return tuple(items)
            items.extend(self.item(bracketed))

    def item(self, bracketed):
        kind, value, start, stop, _ = self.take()
        if kind == "...":
            return [Ellipsis_(Axis(ANONYMOUS, (start, stop), bracketed), (start, stop))]
        if kind == "name":
            nodes = [Axis(value, (start, stop), bracketed)]
        elif kind == "number":
            nodes = [Number(value, (start, stop), bracketed)]
        elif kind in ("(", "["):
            self.depth += 1
            if self.depth > MAX_DEPTH:
                self.error(f"parentheses and brackets nested more than {MAX_DEPTH} deep",
                           (start, stop))
            if kind == "(":
                nodes = [self.composition(start, bracketed)]
            else:  # brackets inside brackets mark nothing more (einx 0.4: `[([a] b)]`)
                nodes = self.bracket(start)
            self.depth -= 1
        elif kind == ")" or kind == "]":
            self.error(f"unbalanced {kind!r}: it closes nothing", (start, stop))
        else:
            self.error(f"unexpected {value!r}", (start, stop))
        token = self.peek()
        if token is not None and token[0] == "..." and token[4]:
            self.take()
            if len(nodes) != 1 or isinstance(nodes[0], Arrow):
                self.error("`...` after a bracket is ambiguous: put it inside, as `[s...]`",
                           (start, token[3]))
            inner = nodes[0]
            if isinstance(inner, Ellipsis_):
                self.error("an ellipsis cannot follow an ellipsis", (start, token[3]))
            if not any(isinstance(n, (Axis, Number)) for n in walk((inner,))):
                self.error("`...` after `()` repeats nothing: put an axis inside",
                           (start, token[3]))
            return [Ellipsis_(inner, (start, token[3]))]
        return nodes

    def composition(self, start, bracketed):
        terms = [self.expression(bracketed, closers=(")", "+"))]
        pluses = []  # the span of each '+', to point at an empty part
        while True:
            token = self.peek()
            if token is None:
                self.error("unbalanced '(': it is never closed", (start, start + 1))
            if token[0] == "+":
                pluses.append(self.take()[2:4])
                terms.append(self.expression(bracketed, closers=(")", "+")))
                continue
            if token[0] != ")":
                # the expression inside stopped at ']', ',' or '->': this '(' never closes
                self.error("unbalanced '(': it is never closed", (start, start + 1))
            stop = self.take()[3]
            if len(terms) == 1:
                return Group(terms[0], (start, stop), bracketed)
            for i, term in enumerate(terms):
                if not term:  # `(a +)`: einx 0.4 refuses a part without axes
                    self.error("a part of a concatenation is empty: each part holds axes; "
                               "write `1` for a part of size one, e.g. (a + 1)",
                               pluses[i - 1] if i else pluses[0])
                if len(term) > 1 or not isinstance(term[0], (Axis, Number, Group)):
                    # `(a b + c)`, `(s... + c)`: einx 0.4 takes one axis or one composition
                    self.error("each part of a concatenation is one axis or one composition: "
                               "write several axes, or an ellipsis, in parentheses, e.g. "
                               "((a b) + c) or ((s...) + c)",
                               (term[0].span[0], term[-1].span[1]))
            return Concat(tuple(terms), (start, stop))

    def bracket(self, start):
        left = self.expression(True, closers=("]", "->"))
        token = self.peek()
        if token is not None and token[0] == "," and self.depth == 1:
            return [self.spread(start, left)]
        right = None
        if token is not None and token[0] == "->":
            self.take()
            right = self.expression(True, closers=("]",))
            token = self.peek()
        if token is None or token[0] == ",":
            self.error("unbalanced '[': it is never closed", (start, start + 1))
        if token[0] != "]":
            self.error(f"expected ']' but found {token[1]!r}", token[2:4])
        stop = self.take()[3]
        if right is not None:
            return [Arrow(left, right, (start, stop))]
        return list(left)


def _spread(parser, start, left):
    parts = [left]
    while parser.peek() is not None and parser.peek()[0] == ",":
        parser.take()
        parts.append(parser.expression(True, closers=("]", "->", ",")))
    token, right = parser.peek(), None
    if token is not None and token[0] == "->":
        parser.take()
        right = parser.expression(True, closers=("]",))
        token = parser.peek()
    if token is None or token[0] != "]":
        parser.error("unbalanced '[': it is never closed", (start, start + 1))
    return Spread(tuple(parts), right, (start, parser.take()[3]))


_Parser.spread = _spread


def _desugar_spreads(parser, inputs, spans, outputs, output_spans):
    """Operands written with one bracket across them (`b p [i, ->]`) as plain operands."""
    for expr in outputs or ():
        for node in expr:
            if isinstance(node, Spread):
                parser.error("a bracket across operands goes on the left of '->'", node.span)
    new_inputs, new_spans = [], []
    for expr, span in zip(inputs, spans):
        spreads = [n for n in expr if isinstance(n, Spread)]
        if not spreads:
            new_inputs.append(expr)
            new_spans.append(span)
            continue
        if len(spreads) > 1:
            parser.error("one bracket at most spans operands", spreads[1].span)
        (spread,) = spreads
        at = expr.index(spread)
        for part in spread.parts:
            new_inputs.append(expr[:at] + tuple(part) + expr[at + 1:])
            new_spans.append(span)
        if spread.right is not None:
            if outputs is not None:
                parser.error("the output is written twice: after '->' inside the bracket "
                             "and after the expression", spread.span)
            outputs = [expr[:at] + tuple(spread.right) + expr[at + 1:]]
            output_spans = [span]
    return new_inputs, new_spans, outputs, output_spans


def parse(text):
    """Parse an expression string into a `Signature` (cached by string).

    >>> sig = parse("b q (h c), b k (h c) -> b q k h")
    >>> len(sig.inputs), len(sig.outputs)
    (2, 1)
    """
    # checked before the cache, which would fail on an unhashable non-string ([], {})
    if not isinstance(text, str):
        raise NotationSyntaxError(
            f"an expression is a string, not {type(text).__name__}: "
            'write for example ein.sum("a [b]", x)'
        )
    return _parse(text)


@functools.lru_cache(maxsize=4096)
def _parse(text):
    return _Parser(text).signature()
