"""Under `jax.jit` a notation call compiles to exactly the hand-written `jnp` program.

For each pair, the jaxpr of the ein version and of the hand-written version must hold the
same primitives in the same order (descending into sub-jaxprs such as `jit` and
`custom_jvp_call`), the same output shapes and dtypes, and the same lowered StableHLO. The
gradients of the differentiable pairs are compared the same way, so the backward program is
no worse either. The hand-written side is the form a JAX user would write; where two
spellings differ only in an equivalent primitive (`x[:, None]` lowers to `broadcast_in_dim`,
`x.reshape(...)` to `reshape`; both are free), the reshape spelling is used.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from levante import ein

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")
jcore = pytest.importorskip("jax.extend.core")


def _normal(seed, *shape):
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), jnp.float32)


x4 = _normal(0, 2, 3, 4, 5)  # b h w c
x3 = _normal(1, 2, 6, 4)  # b t c
w = _normal(2, 4, 7)
bias = _normal(3, 7)
q, k, v = _normal(4, 2, 3, 8), _normal(5, 2, 5, 8), _normal(6, 2, 5, 8)
scores = _normal(7, 2, 2, 3, 5)  # b h q k
table = _normal(8, 10, 4)
ids = jnp.asarray(np.random.default_rng(9).integers(0, 10, (2, 3)), jnp.int32)
updates = _normal(10, 3, 4)
mask = x3 > 0


def attention_ein(q, k, v):
    s = ein.dot("b q (h c), b k (h c) -> b h q k", q, k, h=2)
    return ein.dot("b h q k, b k (h c) -> b q (h c)", ein.softmax("b h q [k]", s), v, h=2)


def attention_jnp(q, k, v):
    s = jnp.einsum("bqhc,bkhc->bhqk", q.reshape(2, 3, 2, 4), k.reshape(2, 5, 2, 4))
    a = jax.nn.softmax(s, axis=-1)
    return jnp.einsum("bhqk,bkhc->bqhc", a, v.reshape(2, 5, 2, 4)).reshape(2, 3, 8)


# (id, ein version, hand-written version, arguments)
PAIRS = [
    # -- rearrange
    ("transpose", lambda x: ein.rearrange("b h w c -> b c h w", x),
     lambda x: jnp.transpose(x, (0, 3, 1, 2)), (x4,)),
    ("reshape-merge", lambda x: ein.rearrange("b h w c -> b (h w) c", x),
     lambda x: x.reshape(2, 12, 5), (x4,)),
    ("reshape-split", lambda x: ein.rearrange("b (s t) c -> b s t c", x, t=2),
     lambda x: x.reshape(2, 3, 2, 4), (x3,)),
    ("transpose-merge", lambda x: ein.rearrange("b h w c -> b c (h w)", x),
     lambda x: jnp.transpose(x, (0, 3, 1, 2)).reshape(2, 5, 12), (x4,)),
    ("ellipsis-moveaxis", lambda x: ein.rearrange("b ... c -> b c ...", x),
     lambda x: jnp.moveaxis(x, -1, 1), (x4,)),
    ("broadcast", lambda x: ein.rearrange("b c -> b t c", x, t=3),
     lambda x: jnp.broadcast_to(x.reshape(2, 1, 4), (2, 3, 4)), (x3[:, 0],)),
    ("concat-class-token", lambda x, c: ein.rearrange("b c, b s c -> b (1 + s) c", c, x),
     lambda x, c: jnp.concatenate([c.reshape(2, 1, 4), x], axis=1), (x3, x3[:, 0])),
    # -- reductions over brackets (or the axes missing from the output)
    ("sum", lambda x: ein.sum("b [h w] c", x), lambda x: x.sum(axis=(1, 2)), (x4,)),
    ("mean", lambda x: ein.mean("b [t] c", x), lambda x: x.mean(axis=1), (x3,)),
    ("max", lambda x: ein.max("b t [c]", x), lambda x: x.max(axis=-1), (x3,)),
    ("sum-to-output", lambda x: ein.sum("b t c -> c b", x), lambda x: x.sum(axis=1).T, (x3,)),
    ("var", lambda x: ein.var("b [t] c", x), lambda x: jnp.var(x, axis=1), (x3,)),
    ("std", lambda x: ein.std("b t [c]", x), lambda x: jnp.std(x, axis=-1), (x3,)),
    ("logsumexp", lambda x: ein.logsumexp("b t [c]", x),
     lambda x: jax.nn.logsumexp(x, axis=-1), (x3,)),
    # -- dot
    ("dot-shorthand-matmul", lambda x, w: ein.dot("b t [c->d]", x, w), lambda x, w: x @ w,
     (x3, w)),
    ("dot-attention-scores", lambda q, k: ein.dot("b q (h c), b k (h c) -> b h q k", q, k, h=2),
     lambda q, k: jnp.einsum("bqhc,bkhc->bhqk", q.reshape(2, 3, 2, 4), k.reshape(2, 5, 2, 4)),
     (q, k)),
    ("dot-attention-output",
     lambda a, v: ein.dot("b h q k, b k (h c) -> b q (h c)", a, v, h=2),
     lambda a, v: jnp.einsum("bhqk,bkhc->bqhc", a, v.reshape(2, 5, 2, 4)).reshape(2, 3, 8),
     (scores, v)),
    ("linear-with-bias", lambda x, w, b: ein.add("... [d]", ein.dot("... [c->d]", x, w), b),
     lambda x, w, b: x @ w + b, (x3, w, bias)),
    # -- elementwise
    ("add-shorthand", lambda x, b: ein.add("... [c]", x, b), lambda x, b: x + b,
     (x3, x3[0, 0])),
    ("multiply-by-mask", lambda x, m: ein.multiply("b t c, b t -> b t c", x, m),
     lambda x, m: x * m.reshape(2, 6, 1), (x3, x3[..., 0])),
    ("where", lambda m, x: ein.where("b t c, b t c, ", m, x, -jnp.inf),
     lambda m, x: jnp.where(m, x, -jnp.inf), (mask, x3)),
    # -- indexing
    ("get-at-embedding", lambda t, i: ein.get_at("[v] c, b t -> b t c", t, i),
     lambda t, i: t[i], (table, ids)),
    ("set-at", lambda t, i, u: ein.set_at("[v] c, i, i c", t, i, u),
     lambda t, i, u: t.at[i].set(u), (table, ids[0], updates)),
    ("add-at", lambda t, i, u: ein.add_at("[v] c, i, i c", t, i, u),
     lambda t, i, u: t.at[i].add(u), (table, ids[0], updates)),
    # -- along axes
    ("softmax", lambda x: ein.softmax("b q [k]", x), lambda x: jax.nn.softmax(x, axis=-1),
     (x3,)),
    ("softmax-two-axes", lambda x: ein.softmax("b [h w] c", x),
     lambda x: jax.nn.softmax(x, axis=(1, 2)), (x4,)),
    ("log-softmax", lambda x: ein.log_softmax("b q [k]", x),
     lambda x: jax.nn.log_softmax(x, axis=-1), (x3,)),
    ("roll", lambda x: ein.roll("b [t] c", x, shift=1), lambda x: jnp.roll(x, 1, axis=1),
     (x3,)),
    ("flip", lambda x: ein.flip("b [t] c", x), lambda x: jnp.flip(x, axis=1), (x3,)),
    ("sort", lambda x: ein.sort("b t [c]", x), lambda x: jnp.sort(x, axis=-1), (x3,)),
    ("argmax", lambda x: ein.argmax("b t [c] -> b t", x), lambda x: jnp.argmax(x, axis=-1),
     (x3,)),
    ("argmax-unit-axis", lambda x: ein.argmax("b t [c]", x),
     lambda x: jnp.argmax(x, axis=-1).reshape(x.shape[:-1] + (1,)), (x3,)),
    # -- a whole block
    ("attention", attention_ein, attention_jnp, (q, k, v)),
]


def primitives(jaxpr):
    """Primitive names in order, with each sub-jaxpr's names as a nested list after its eqn."""
    names = []
    for eqn in jaxpr.eqns:
        names.append(eqn.primitive.name)
        for sub in jcore.jaxprs_in_params(eqn.params):
            names.append(primitives(sub))
    return names


def _flat(names):
    for n in names:
        if isinstance(n, list):
            yield from _flat(n)
        else:
            yield n


def lowered(function, args):
    text = jax.jit(function).lower(*args).as_text()
    return re.sub(r"module @\S+", "module @m", text)


def assert_same_program(mine, theirs, args):
    a, b = jax.make_jaxpr(mine)(*args), jax.make_jaxpr(theirs)(*args)
    assert primitives(a.jaxpr) == primitives(b.jaxpr), f"\nein:\n{a}\nhand-written:\n{b}"
    assert [(v.shape, v.dtype) for v in a.out_avals] == [(v.shape, v.dtype) for v in b.out_avals]
    assert lowered(mine, args) == lowered(theirs, args)


@pytest.mark.parametrize("mine, theirs, args", [pytest.param(*p[1:], id=p[0]) for p in PAIRS])
def test_jit_program_equals_hand_written(mine, theirs, args):
    assert_same_program(mine, theirs, args)


def _differentiable(pair):
    _, mine, _, args = pair
    out = jax.eval_shape(mine, *args)
    return all(jnp.issubdtype(a.dtype, jnp.floating) for a in args) and jnp.issubdtype(
        out.dtype, jnp.floating)


GRAD_PAIRS = [p for p in PAIRS if _differentiable(p)]


@pytest.mark.parametrize("mine, theirs, args",
                         [pytest.param(*p[1:], id=p[0]) for p in GRAD_PAIRS])
def test_grad_program_equals_hand_written(mine, theirs, args):
    argnums = tuple(range(len(args)))

    def grad_of(f):
        return jax.grad(lambda *a: jnp.sum(jnp.sin(f(*a))), argnums=argnums)

    assert_same_program(grad_of(mine), grad_of(theirs), args)


def test_pairs_cover_the_brief():
    assert len(PAIRS) >= 20
    assert len(GRAD_PAIRS) >= 15
    every = {name for _, mine, _, args in PAIRS
             for name in _flat(primitives(jax.make_jaxpr(mine)(*args).jaxpr))}
    assert {"transpose", "reshape", "reduce_sum", "reduce_max", "dot_general", "add", "gather",
            "scatter-add", "exp", "concatenate", "select_n", "argmax", "sort"} <= every


def test_a_plan_adds_no_primitive_of_its_own():
    """The engine's bookkeeping (cache look-up, plan call) leaves no trace in the program:
    calling the same op twice gives twice the primitives of one call."""
    once = jax.make_jaxpr(lambda x: ein.sum("b [t] c", x))(x3)
    twice = jax.make_jaxpr(lambda x: ein.sum("b [t] c", x) + ein.sum("b [t] c", x))(x3)
    assert primitives(twice.jaxpr) == 2 * primitives(once.jaxpr) + ["add"]
