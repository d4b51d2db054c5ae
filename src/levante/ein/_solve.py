"""Expand ellipses and solve axis sizes: from expression trees and shapes to layouts.

A *layout* is an expression with its ellipses expanded: a tuple of dimensions, each a
tuple of terms (several only for a concatenation `(a + b)`), each term a tuple of atoms
(several for a composition `(h c)`). An atom is `(name, bracketed, span)`; a number gets
a name of its own made from its position, so each written number is its own axis.

    b (s w)... c   with rank 4   ->   b | (s.0 w.0) | (s.1 w.1) | c
"""

from __future__ import annotations

import math
import operator
from typing import NamedTuple

import numpy as np

from ._errors import NotationError, NotationRankError, NotationSizeError
from ._syntax import ANONYMOUS, Arrow, Axis, Concat, Ellipsis_, Group, Number, walk


class Atom(NamedTuple):
    name: str
    bracketed: bool
    span: tuple


class Dim:
    """One dimension of a layout: its terms (each a composition of atoms) and its span."""

    __slots__ = ("atoms", "inside", "span", "terms")

    def __init__(self, terms, span, inside=False):
        self.terms = terms  # of tuples of Atom
        self.span = span
        self.inside = inside  # a composition written inside brackets, `[(p q)]`
        self.atoms = tuple(a for term in terms for a in term)  # read often: made once

    def __eq__(self, other):
        return isinstance(other, Dim) and (self.terms, self.span) == (other.terms, other.span)

    def __hash__(self):
        return hash((self.terms, self.span))

    def __repr__(self):
        return f"Dim({self.terms!r}, {self.span!r})"


def number_name(node):
    return f"{node.value}@{node.span[0]}"


def is_number(name):
    return "@" in name


def display(name):
    """The axis name as the user wrote it: `s.1` stays, `2@7` becomes `2`, `h'1` `h`."""
    name = name.split("'")[0]
    return name.split("@")[0] if is_number(name) else name


# ---------------------------------------------------------------- ellipsis depths


def _ellipsis_names(node):
    names = sorted({n.name for n in walk((node.inner,)) if isinstance(n, Axis)})
    return names or [f"{number_name(n)}" for n in walk((node.inner,)) if isinstance(n, Number)]


def _solve_depths(text, operands, ranks, spans, depths):
    """Fill `depths` (ellipsis key -> repeat count) from the operands' ranks."""
    pending = [i for i, rank in enumerate(ranks) if rank is not None]
    progress = True
    while pending and progress:
        progress = False
        for i in list(pending):
            nodes, rank = operands[i], ranks[i]
            fixed = sum(1 for n in nodes if not isinstance(n, Ellipsis_))
            unknown, known = {}, 0
            for n in nodes:
                if isinstance(n, Ellipsis_):
                    depth = _known_depth(text, n, depths)
                    if depth is not None:
                        known += depth
                    else:
                        unknown.setdefault(_ellipsis_names(n)[0], []).append(n)
            free = rank - fixed - known
            if not unknown:
                if free != 0:
                    raise _rank_error(text, spans[i], i, nodes, rank, fixed + known)
                pending.remove(i)
                progress = True
            elif len(unknown) == 1:
                ((_, found),) = unknown.items()
                if free < 0 or free % len(found):
                    raise _rank_error(text, spans[i], i, nodes, rank, fixed + known)
                for n in found:
                    for name in _ellipsis_names(n):
                        depths[name] = free // len(found)
                pending.remove(i)
                progress = True
    if pending:
        i = pending[0]
        raise NotationRankError(
            f"operand {i + 1} has rank {ranks[i]} but holds several ellipses of unknown length; "
            "give the length of one of them as a keyword, e.g. s=(4, 4)",
            text, spans[i])


def _whole_in_groups(expressions):
    """Named ellipses written only as a whole composition `(s...)`."""
    whole, elsewhere = set(), set()
    for nodes in expressions:
        inside = set()
        for node in walk(nodes):
            if isinstance(node, Group) and len(node.children) == 1 and isinstance(
                    node.children[0], Ellipsis_):
                inside.add(id(node.children[0]))
        for node in walk(nodes):
            if isinstance(node, Ellipsis_):
                key = _ellipsis_names(node)[0]
                (whole if id(node) in inside and key != ANONYMOUS else elsewhere).add(key)
    return whole - elsewhere


def _known_depth(text, node, depths):
    """The repeat count of `node` if any of its names has one; it then applies to all.

    In `(s ds)...` a length given for `ds` (ds=(2, 2)) is also the length of `s...`.
    """
    names = _ellipsis_names(node)
    found = {depths[n] for n in names if n in depths}
    if not found:
        return None
    if len(found) > 1:
        raise NotationRankError(
            "the axes repeated by one ellipsis were given different lengths: "
            + ", ".join(f"{n}... has {depths[n]}" for n in names if n in depths),
            text, node.span)
    (depth,) = found
    for name in names:
        depths[name] = depth
    return depth


def _rank_error(text, span, index, nodes, rank, needed):
    has_ellipsis = any(isinstance(n, Ellipsis_) for n in nodes)
    wanted = f"at least {needed}" if has_ellipsis else f"{needed}"
    return NotationRankError(
        f"the expression has {wanted} axes but operand {index + 1} has rank {rank}: "
        "write one name per dimension (or `...` for the rest)",
        text, span)


# ---------------------------------------------------------------- expansion


def _expand_node(node, depths, suffix, text):
    """A node as a list of items (Dim-like term lists) after expanding ellipses."""
    if isinstance(node, Axis):
        return [((Atom(node.name + suffix, node.bracketed, node.span),),)]
    if isinstance(node, Number):
        return [((Atom(number_name(node) + suffix, node.bracketed, node.span),),)]
    if isinstance(node, Group):
        term = tuple(a for child in node.children
                     for item in _expand_node(child, depths, suffix, text)
                     for a in _single_term(item, child, text))
        return [(term,)]
    if isinstance(node, Concat):
        terms = tuple(
            tuple(a for child in term for item in _expand_node(child, depths, suffix, text)
                  for a in _single_term(item, child, text))
            for term in node.terms)
        return [terms]
    if isinstance(node, Ellipsis_):
        key = _ellipsis_names(node)[0]
        if key not in depths:
            shown = "..." if key == ANONYMOUS else f"{key}..."
            raise NotationRankError(
                f"cannot tell how many axes `{shown}` stands for: it appears in no operand "
                "whose rank fixes it; give its sizes as a keyword, e.g. s=(4, 4)",
                text, node.span)
        items = []
        for i in range(depths[key]):
            items.extend(_expand_node(node.inner, depths, f"{suffix}.{i}", text))
        return items
    if isinstance(node, Arrow):
        raise NotationError("`->` inside brackets is the shorthand of ein.dot ('b [c1->c2]'); "
                            "other ops take no arrow there", text, node.span)
    raise TypeError(node)


def _single_term(item, node, text):
    if len(item) != 1:
        raise NotationSizeError("a concatenation cannot sit inside a composition", text,
                                node.span)
    return item[0]


def expand(nodes, depths, text):
    """An expression tree as a layout (tuple of `Dim`)."""
    dims = []
    for node in nodes:
        inside = isinstance(node, Group) and node.bracketed
        for terms in _expand_node(node, depths, "", text):
            dims.append(Dim(terms, node.span, inside))
    return tuple(dims)


# ---------------------------------------------------------------- sizes


# NumPy's limits, which JAX and PyTorch share: an array holds at most 2**63 - 1 elements
# (a broadcast view too) and has at most 64 dimensions
MAX_ELEMENTS = 2**63 - 1
MAX_RANK = 64


def _check_size(name, value):
    if isinstance(value, (bool, np.bool_)):  # True == 1, but a flag is no size
        raise NotationSizeError(
            f"the size given for `{name}` is {value!r}; a size is a non-negative integer")
    if not isinstance(value, int):
        # an integer type only (NumPy, JAX and PyTorch integer scalars have __index__), as in
        # einx 0.4: a float such as 2.0 is refused even when whole, since it is most often
        # a computed size (n / 2) whose rounding went unnoticed
        try:
            value = operator.index(value)
        except (TypeError, ValueError, OverflowError, ArithmeticError):
            hint = (f"; write int({value!r}) if it is meant as {int(value)}"
                    if isinstance(value, (float, np.floating)) and float(value).is_integer()
                    else "")
            raise NotationSizeError(f"the size given for `{name}` is {value!r}; a size is a "
                                    f"non-negative integer{hint}") from None
    if value < 0:
        raise NotationSizeError(f"the size given for `{name}` is {value}; it must be >= 0")
    if value > MAX_ELEMENTS:
        raise NotationSizeError(f"the size given for `{name}` is {value}; no array has an axis "
                                f"that long (at most 2**63 - 1)")
    return value


def given_sizes(sizes, depths):
    """Keyword sizes as atom sizes; a tuple gives a named ellipsis both length and sizes."""
    known = {}
    for name, value in sizes.items():
        if isinstance(value, (tuple, list)):
            if len(value) > MAX_RANK:
                raise NotationRankError(f"the sizes given for `{name}...` are {len(value)} "
                                        f"axes; an array has at most {MAX_RANK}")
            depths[name] = len(value)
            for i, v in enumerate(value):
                known[f"{name}.{i}"] = _check_size(name, v)
        else:
            known[name] = _check_size(name, value)
    return known


def _product(values):
    return math.prod(values)


def solve_sizes(text, layouts, shapes, known):
    """Solve every atom's size from the equations `size(dim) = shape[i]`.

    Each equation is a sum over terms of products over atoms; one with a single unknown
    atom is solved, then the others again, until nothing changes.
    """
    equations = [(dim, length) for layout, shape in zip(layouts, shapes) if shape is not None
                 for dim, length in zip(layout, shape)]
    changed = True
    while changed:
        changed = False
        for dim, length in equations:
            missing = [a for a in dim.atoms if a.name not in known]
            names = {a.name for a in missing}
            if len(names) > 1:
                continue
            if not names:
                total = sum(_product(known[a.name] for a in term) for term in dim.terms)
                if total != length:
                    raise _conflict(text, dim, length, known)
                continue
            name = missing[0].name
            _solve_one(text, dim, length, name, known)
            changed = True
    return known


def _solve_one(text, dim, length, name, known):
    rest, factor, count, linear = 0, 1, 0, 0
    for term in dim.terms:
        here = sum(1 for a in term if a.name == name)
        if here == 0:
            rest += _product(known[a.name] for a in term)
        else:
            count += here
            factor = _product(known[a.name] for a in term if a.name != name)
            linear += factor if here == 1 else 0
    atom = next(a for a in dim.atoms if a.name == name)
    remaining = length - rest
    terms_with = sum(1 for term in dim.terms if any(a.name == name for a in term))
    if count > 1 and count == terms_with:
        # `(a + a)`: once in each of several parts, a linear equation (einx 0.4 solves it)
        factor, count = linear, 1
    if count > 1 and terms_with == 1 and factor and remaining >= 0 and not remaining % factor:
        # `(k k)`: k ** count = remaining / factor, solved when that has an integer root
        power = remaining // factor
        root = round(power ** (1 / count))
        for guess in (root - 1, root, root + 1):
            if guess >= 0 and guess ** count == power:
                known[name] = guess
                return
    if count > 1:
        raise NotationSizeError(
            f"cannot solve `{display(name)}`: it appears {count} times in a dimension of "
            f"size {length}, which is no power of an integer that fits; give it as a keyword, "
            f"{display(name)}=...", text, atom.span)
    if factor == 0 or remaining < 0 or remaining % factor:
        raise NotationSizeError(
            f"the dimension of size {length} does not divide into the axes written here: "
            f"`{display(name)}` would be {remaining}/{factor}",
            text, dim.span)
    known[name] = remaining // factor


def _conflict(text, dim, length, known):
    sizes = " ".join(f"{display(a.name)}={known[a.name]}" for a in dim.atoms)
    return NotationSizeError(
        f"conflicting sizes: the operand has {length} here but the axes say "
        f"{sum(_product(known[a.name] for a in t) for t in dim.terms)} ({sizes})",
        text, dim.span)


def dim_size(dim, known):
    return sum(_product(known[a.name] for a in term) for term in dim.terms)


def require_sizes(text, layouts, known):
    """Raise for the first atom of `layouts` whose size is still unknown."""
    for layout in layouts:
        for dim in layout:
            for atom in dim.atoms:
                if atom.name not in known:
                    shown = display(atom.name)
                    base = shown.split(".")[0]
                    raise NotationSizeError(
                        f"cannot determine the size of axis `{shown}`: no operand fixes it; "
                        f"give it as a keyword, e.g. {base}=4", text, atom.span)


class Resolved(NamedTuple):
    inputs: tuple  # layouts
    outputs: tuple  # layouts
    sizes: dict  # atom name -> size


def resolve(text, inputs, outputs, shapes, sizes, spans, out_spans=None, complete=True,
            together=False):
    """Expand ellipses and solve sizes for operand and output expressions.

    `shapes[i]` is None for an operand whose shape is unknown (a tensor factory).
    `complete=False` stops after checking that the shapes are consistent, leaving sizes
    that nothing determines unsolved (`matches("(a b) c", x)` is True).
    """
    depths = {}
    try:
        known = given_sizes(sizes, depths)
    except NotationSizeError as error:
        name = next((n for n in sizes if f"`{n}`" in error.reason), None)
        raise NotationSizeError(error.reason, text, _written_span(text, inputs, outputs, name)
                                ) from None
    ranks = [None if s is None else len(s) for s in shapes]
    _solve_depths(text, list(inputs), ranks, list(spans), depths)
    for name in _whole_in_groups(tuple(inputs) + tuple(outputs)):
        # `(s...)` and only that, everywhere: one dimension whatever the length, so any
        # length gives the same result (einx 0.4 accepts it); one axis is the simplest
        depths.setdefault(name, 1)
    in_layouts = tuple(expand(nodes, depths, text) for nodes in inputs)
    out_layouts = tuple(expand(nodes, depths, text) for nodes in outputs)
    in_layouts, out_layouts, twins = _separate_bracketed_repeats(in_layouts, out_layouts)
    _check_ellipsis_names(text, in_layouts + out_layouts)
    _check_names(text, in_layouts + out_layouts, known, sizes, inputs + tuple(outputs))
    for layout in in_layouts + out_layouts:
        for dim in layout:
            for atom in dim.atoms:
                name = atom.name
                if is_number(name):
                    known[name] = int(name.split("@")[0])
                elif name not in known and "." in name:
                    # one size for a named ellipsis's axes applies to every repetition
                    base = name.split(".")[0]
                    if base in known:
                        known[name] = known[base]
    for twin, name in twins.items():  # `[h h]`: two axes, one size
        if name in known and twin not in known:
            known[twin] = known[name]
    solve_sizes(text, in_layouts, shapes, known)
    for twin, name in twins.items():
        if twin in known and name not in known:
            known[name] = known[twin]
            solve_sizes(text, in_layouts, shapes, known)
        if twin in known and known[twin] != known.get(name):
            atom = next(a for layout in in_layouts for d in layout for a in d.atoms
                        if a.name == twin)
            raise NotationSizeError(f"axis `{display(name)}` is written twice with the sizes "
                                    f"{known.get(name)} and {known[twin]}", text, atom.span)
    if not complete:
        return Resolved(in_layouts, out_layouts, known)
    if together:
        _solve_together(text, in_layouts, out_layouts, shapes, known)
    require_sizes(text, in_layouts + out_layouts, known)
    _check_limits(text, in_layouts + out_layouts, known)
    return Resolved(in_layouts, out_layouts, known)


def _check_limits(text, layouts, known):
    """Every layout, and every operand split into one axis per name, must fit an array."""
    for layout in layouts:
        atoms = [a for d in layout for a in d.atoms]
        if len(layout) > MAX_RANK or len(atoms) > MAX_RANK:
            raise NotationRankError(
                f"this part of the expression has {max(len(layout), len(atoms))} axes; "
                f"an array has at most {MAX_RANK} (NumPy's limit)", text,
                (layout[0].span[0], layout[-1].span[1]))
        if math.prod(known[a.name] for a in atoms) > MAX_ELEMENTS:
            raise NotationSizeError(
                "these axes hold more than 2**63 - 1 elements, more than any array can: "
                + " ".join(f"{display(a.name)}={known[a.name]}" for a in atoms), text,
                (layout[0].span[0], layout[-1].span[1]))


def _solve_together(text, in_layouts, out_layouts, shapes, known):
    """Axes that only ever travel together need no sizes of their own (einx 0.4).

    When every term that holds one of the unknown axes `p q` holds both, next to each other
    in that order and bracketed alike (`([p q]) c`, `(u v) w -> (u v w)`), every split of
    their product gives the same result: the first takes the product, the others 1.
    """
    layouts = in_layouts + out_layouts
    for layout, shape in zip(in_layouts, shapes):
        if shape is None:
            continue
        for dim, length in zip(layout, shape):
            if len(dim.terms) != 1:
                continue
            run = tuple(a.name for a in dim.atoms if a.name not in known)
            if len(run) < 2 or len(set(run)) != len(run):
                continue
            rest = _product(known[a.name] for a in dim.atoms if a.name in known)
            if not rest or length % rest or not _travel_together(run, layouts):
                continue
            known[run[0]] = length // rest
            known.update({name: 1 for name in run[1:]})
    solve_sizes(text, in_layouts, shapes, known)


def _travel_together(run, layouts):
    for layout in layouts:
        for dim in layout:
            for term in dim.terms:
                names = [a.name for a in term]
                if not set(run) & set(names):
                    continue
                at = [i for i in range(len(names) - len(run) + 1)
                      if tuple(names[i:i + len(run)]) == run]
                if len(at) != 1 or sum(n in run for n in names) != len(run):
                    return False
                if len({a.bracketed for a in term[at[0]:at[0] + len(run)]}) != 1:
                    return False
    return True


TWIN = "'"  # `h'1`: the second `h` of `[h h]`


def _separate_bracketed_repeats(in_layouts, out_layouts):
    """In `b [h h] c` both `h` are worked along, as two axes of one size (einx 0.4): the
    k-th repeat is renamed `h'k` in that operand, and in an output the k-th `h` is too.
    A name repeated outside brackets stays one axis: its diagonal."""
    twins = {}

    def rename(layout, repeated):
        seen, dims = {}, []
        for dim in layout:
            terms = []
            for term in dim.terms:
                atoms = []
                for a in term:
                    k = seen.get(a.name, 0)
                    seen[a.name] = k + 1
                    if k and a.name in repeated:
                        twins[f"{a.name}{TWIN}{k}"] = a.name
                        a = Atom(f"{a.name}{TWIN}{k}", a.bracketed, a.span)
                    atoms.append(a)
                terms.append(tuple(atoms))
            dims.append(Dim(tuple(terms), dim.span))
        return tuple(dims)

    repeated = set()
    for layout in in_layouts:
        atoms = [a for d in layout for a in d.atoms]
        names = [a.name for a in atoms]
        repeated |= {a.name for a in atoms if names.count(a.name) > 1
                     and all(b.bracketed for b in atoms if b.name == a.name)}
    if not repeated:
        return in_layouts, out_layouts, twins
    return (tuple(rename(layout, repeated) for layout in in_layouts),
            tuple(rename(layout, repeated) for layout in out_layouts), twins)


def _check_ellipsis_names(text, layouts):
    """`a` and `a...` in one expression would share one keyword size and one solved entry."""
    atoms = [a for layout in layouts for d in layout for a in d.atoms if not is_number(a.name)]
    plain = {a.name for a in atoms if "." not in a.name}
    for a in atoms:
        base = a.name.split(".")[0]
        if "." in a.name and base in plain:
            raise NotationRankError(
                f"`{base}` names both an axis and the ellipsis `{base}...`: rename one of them",
                text, a.span)


def _written_span(text, expressions, outputs, name):
    """Where axis `name` (or the named ellipsis `name...`) is written; else the whole text."""
    for nodes in tuple(expressions) + tuple(outputs):
        for node in walk(nodes):
            if isinstance(node, Ellipsis_) and name in _ellipsis_names(node):
                return node.span
            if isinstance(node, Axis) and node.name == name:
                return node.span
    return (0, max(1, len(text)))


def _check_names(text, layouts, known, sizes, expressions=()):
    present = {a.name for layout in layouts for d in layout for a in d.atoms}
    for name in sizes:
        if name in present:
            if isinstance(sizes[name], (tuple, list)):
                raise NotationSizeError(
                    f"`{name}` is a single axis but was given the sizes {tuple(sizes[name])}; "
                    f"give one size, or write the named ellipsis `{name}...`",
                    text, _written_span(text, expressions, (), name))
            continue
        # a size for an axis the expression does not name is accepted, as in einx, so
        # that the result of `solve(...)` can be passed on with **sizes to any op (its
        # value was checked by `given_sizes`)
