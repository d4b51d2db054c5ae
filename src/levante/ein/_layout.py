"""Moving an operand between its written layout and a flat list of named axes.

`decompose` takes an operand as the user laid it out (`b (h w) c`) to one axis per name
(`b h w c`): a reshape, unit axes dropped, repeated names reduced to their diagonal.
`compose` takes named axes to an output layout: a transpose, broadcasting of the axes the
operand lacks, a reshape into compositions. Every op plans through these two.
"""

from __future__ import annotations

import re

from ._errors import NotationError
from ._solve import display, is_number


def sizes_of(names, sizes):
    return tuple(sizes[n] for n in names)


def decompose(w, x, layout, sizes, text):
    """Operand `x` laid out as `layout` -> (variable, axis names), one axis per name."""
    for dim in layout:
        if len(dim.terms) != 1:
            raise NotationError("a concatenation `(a + b)` is only understood by rearrange",
                                text, dim.span)
    names = [a.name for dim in layout for a in dim.atoms]
    # unit numbers carry no axis of their own: squeeze them away
    kept = [n for n in names if not (is_number(n) and sizes[n] == 1)]
    x = w.reshape(x, sizes_of(kept, sizes))
    if len(set(kept)) == len(kept):
        return x, kept
    return _diagonal(w, x, kept)


def _diagonal(w, x, names):
    letters = _letters(names)
    unique = list(dict.fromkeys(names))
    spec = "".join(letters[n] for n in names) + "->" + "".join(letters[n] for n in unique)
    return w.call(w.backend.einsum(spec, [x]), [x]), unique


def _letters(names):
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    unique = list(dict.fromkeys(names))
    if len(unique) > len(alphabet):
        raise NotationError(f"an expression may hold at most {len(alphabet)} distinct axes")
    return {n: alphabet[i] for i, n in enumerate(unique)}


def letters_for(names):
    return _letters(names)


def output_names(layout):
    return [a.name for dim in layout for a in dim.atoms]


def compose(w, x, names, layout, sizes, text):
    """Named axes `names` of `x` -> the output `layout`, broadcasting what `x` lacks."""
    wanted = output_names(layout)
    seen = set()
    for dim in layout:
        if len(dim.terms) != 1:
            # only rearrange cuts its outputs into pieces; anywhere else the parts would be
            # flattened into one axis, a different value from the concatenation written
            raise NotationError("a concatenation `(a + b)` is only understood by rearrange: "
                                "compute the parts first, then join them with "
                                "ein.rearrange('a, b -> (a + b)', ...)", text, dim.span)
        for atom in dim.atoms:
            if atom.name in seen:
                raise NotationError(f"axis `{display(atom.name)}` appears twice in the output",
                                    text, atom.span)
            seen.add(atom.name)
    order = [names.index(n) for n in wanted if n in names]
    if len(order) != len(names):
        lost = next(n for n in names if n not in wanted)
        raise NotationError(
            f"axis `{display(lost)}` of an operand is missing from the output: name it there, "
            "or use a reduction to remove it", text, written_span(text, lost))
    x = w.transpose(x, order)
    present = [n for n in wanted if n in names]
    if len(present) != len(wanted):
        with_units = [sizes[n] if n in names else 1 for n in wanted]
        x = w.reshape(x, with_units)
        x = w.broadcast_to(x, sizes_of(wanted, sizes))
    return w.reshape(x, [_dim_size(dim, sizes) for dim in layout])


def written_span(text, name):
    """Where the user first wrote axis `name` (the whole text where that is unclear)."""
    if is_number(name):
        value, _, at = name.partition("@")
        if at.isdigit():
            return (int(at), int(at) + len(value))
    elif name.startswith("..."):
        found = re.search(r"\.\.\.", text)
        return found.span() if found else (0, max(1, len(text)))
    else:
        base = re.escape(name.split(".")[0])
        found = re.search(rf"(?<![A-Za-z0-9_]){base}(?![A-Za-z0-9_])", text)
        if found:
            return found.span()
    return (0, max(1, len(text)))


def _dim_size(dim, sizes):
    total = 0
    for term in dim.terms:
        size = 1
        for atom in term:
            size *= sizes[atom.name]
        total += size
    return total


def dim_size(dim, sizes):
    return _dim_size(dim, sizes)
