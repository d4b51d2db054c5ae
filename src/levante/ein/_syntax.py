"""The expression tree: what the parser produces and the later stages read.

Every node remembers its span (start, stop) in the user's string, so that an error found
much later, after ellipses are expanded and shorthands desugared, can still put `^` under
the user's own words.

    b (s w)... [c]            a sequence of four items:
    Axis(b)  Ellipsis(Group(s w))  Axis(c, bracketed)
"""

from __future__ import annotations

from dataclasses import dataclass

ANONYMOUS = "..."  # the name that a bare `...` expands under, shared by all operands


@dataclass(frozen=True)
class Axis:
    """A named axis, `b`; `bracketed` marks the axes an op works along."""

    name: str
    span: tuple[int, int]
    bracketed: bool = False


@dataclass(frozen=True)
class Number:
    """An unnamed axis of fixed size, `1` or `16`."""

    value: int
    span: tuple[int, int]
    bracketed: bool = False


@dataclass(frozen=True)
class Group:
    """A composition `(h c)`: several axes flattened into one, the first outermost."""

    children: tuple
    span: tuple[int, int]
    bracketed: bool = False  # the whole composition sits inside brackets: `[(p q)]`


@dataclass(frozen=True)
class Concat:
    """A concatenation `(a + b)`: one axis whose size is the sum of its terms' sizes."""

    terms: tuple  # of tuples of nodes, each term a composition
    span: tuple[int, int]


@dataclass(frozen=True)
class Ellipsis_:
    """`inner...`: the inner node repeated as many times as the operand's rank asks."""

    inner: object
    span: tuple[int, int]


@dataclass(frozen=True)
class Arrow:
    """`[left -> right]`: the axes of the first operand become the output's (dot shorthand)."""

    left: tuple
    right: tuple
    span: tuple[int, int]


@dataclass(frozen=True)
class Spread:
    """`b p [i, , -> i]`: a bracket spanning operands, each part one operand's bracketed
    axes (the rest of the expression shared), the part after `->` the output's. The parser
    desugars it into operands; later stages never see it."""

    parts: tuple  # of tuples of nodes
    right: tuple | None
    span: tuple[int, int]


@dataclass(frozen=True)
class Signature:
    """A parsed expression: operand expressions, optional output expressions, the text."""

    inputs: tuple  # of tuples of nodes
    outputs: tuple | None
    text: str
    input_spans: tuple  # span of each input expression, for rank errors
    output_spans: tuple | None


def walk(nodes):
    """Every node in `nodes`, depth first."""
    for node in nodes:
        yield node
        if isinstance(node, Group):
            yield from walk(node.children)
        elif isinstance(node, Concat):
            for term in node.terms:
                yield from walk(term)
        elif isinstance(node, Ellipsis_):
            yield from walk((node.inner,))
        elif isinstance(node, Arrow):
            yield from walk(node.left)
            yield from walk(node.right)


def atoms(nodes):
    """The axes and numbers in `nodes`, in order."""
    return [n for n in walk(nodes) if isinstance(n, (Axis, Number))]


def has_brackets(nodes):
    return any(isinstance(n, Arrow) or getattr(n, "bracketed", False) for n in walk(nodes))


def strip_brackets(nodes):
    """The same expression with every bracket removed (arrows are kept)."""
    return tuple(_unmark(n) for n in nodes)


def _unmark(node):
    if isinstance(node, Axis):
        return Axis(node.name, node.span, False)
    if isinstance(node, Number):
        return Number(node.value, node.span, False)
    if isinstance(node, Group):
        return Group(strip_brackets(node.children), node.span)  # bracketed=False
    if isinstance(node, Concat):
        return Concat(tuple(strip_brackets(t) for t in node.terms), node.span)
    if isinstance(node, Ellipsis_):
        return Ellipsis_(_unmark(node.inner), node.span)
    return node


def bracketed_part(nodes):
    """Only the bracketed axes of `nodes`, keeping ellipses and compositions around them.

    This is the implied second operand of the shorthands: in `b [s... c]` it is `s... c`.
    """
    kept = []
    for node in nodes:
        if isinstance(node, (Axis, Number)):
            if node.bracketed:
                kept.append(node)
        elif isinstance(node, Ellipsis_):
            inner = bracketed_part((node.inner,))
            if inner:
                kept.append(Ellipsis_(inner[0] if len(inner) == 1 else Group(inner, node.span),
                                      node.span))
        elif isinstance(node, Group):
            kept.extend(bracketed_part(node.children))
    return strip_brackets(tuple(kept))
