"""Tags and labels: each leaf's path, and rules that turn paths into optimizer groups.

`lv.label(params, rules)` gives a tree of the same structure as `params` (the `Params`
containers included), which is what `optax.multi_transform` (a label per leaf) and
`optax.masked` / the `mask=` of `optax.adamw` (True/False per leaf) expect; both also accept
a function of the parameters, e.g. `lambda p: lv.label(p, rules)`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import jax

from ._errors import fail
from ._params import keypath_text

_NO_DEFAULT = object()


def tags(params):
    """A tree like `params` whose leaves are their paths (`encoder/mlp/0/w`).

    >>> import levante as lv
    >>> lv.tags({"encoder": {"w": 1.0, "layers": [2.0, 3.0]}})
    {'encoder': {'layers': ['encoder/layers/0', 'encoder/layers/1'], 'w': 'encoder/w'}}
    """
    return jax.tree_util.tree_map_with_path(lambda kp, _: keypath_text(kp), params)


def _glob(pattern):
    """A path pattern as a regex: `*` one part, `**` any number of parts, `?` one char."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:[^/]+/)*")
            i += 3
        elif pattern.startswith("/**", i) and i + 3 == len(pattern):
            out.append("(?:/[^/]+)*")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


def _matcher(rule):
    if isinstance(rule, str):
        regex = _glob(rule)
        return lambda path, leaf: regex.fullmatch(path) is not None
    if isinstance(rule, re.Pattern):
        return lambda path, leaf: rule.fullmatch(path) is not None
    if callable(rule):
        return lambda path, leaf: bool(rule(path, leaf))
    raise fail(f"lv.label got the rule {rule!r}",
               "a rule is a path pattern ('**/w', 'blocks/*/attn/**'), a compiled regex, or "
               "a predicate (path, leaf) -> bool")


def label(params, rules, default=_NO_DEFAULT):
    """A tree like `params` with a label for each leaf, from rules over paths.

    `rules` is a mapping (or a list of pairs) from a rule to a label, tried in order, the
    first match winning; a rule is a path pattern (`*` matches one part of the path, `**`
    any number of parts, `?` one character), a compiled regex (full match), or a predicate
    `(path, leaf) -> bool`. `rules` may also be one function `(path, leaf) -> label`.
    A leaf no rule matches gets `default`; without a default it is a `ParamsError` naming
    the path.

    Weight decay on matrices only, and a learning rate per block depth, with optax:

    >>> import jax.numpy as jnp
    >>> import optax
    >>> import levante as lv
    >>> params = {"blocks": [{"w": jnp.ones((2, 2)), "b": jnp.ones(2)}] * 2}
    >>> lv.label(params, {"**/b": "no_decay", "**": "decay"})["blocks"][0]
    {'b': 'no_decay', 'w': 'decay'}
    >>> decay = lambda p: lv.label(p, [(lambda path, x: x.ndim >= 2, True)], default=False)
    >>> optimizer = optax.adamw(1e-3, weight_decay=0.1, mask=decay)
    >>> depth = lambda path, x: "deep" if path.startswith("blocks/1/") else "shallow"
    >>> optimizer = optax.multi_transform(
    ...     {"deep": optax.sgd(1e-4), "shallow": optax.sgd(1e-3)}, lambda p: lv.label(p, depth))
    >>> state = optimizer.init(params)
    """
    if callable(rules) and not isinstance(rules, Mapping):
        return jax.tree_util.tree_map_with_path(
            lambda kp, leaf: rules(keypath_text(kp), leaf), params)
    pairs = list(rules.items()) if isinstance(rules, Mapping) else list(rules)
    matchers = [(_matcher(rule), value) for rule, value in pairs]
    unmatched = []

    def one(keypath, leaf):
        path = keypath_text(keypath)
        for matches, value in matchers:
            if matches(path, leaf):
                return value
        if default is _NO_DEFAULT:
            unmatched.append(path)
            return None
        return default

    labels = jax.tree_util.tree_map_with_path(one, params)
    if unmatched:
        shown = ", ".join(f"'{p}'" for p in unmatched[:5])
        more = f" and {len(unmatched) - 5} more" if len(unmatched) > 5 else ""
        raise fail(f"lv.label: no rule matches the parameters {shown}{more}",
                   "add a rule for them (e.g. '**' matches every path) or pass default=...")
    return labels
