"""The cached engine behind every op: parse -> solve -> plan -> compile -> cache -> run.

A warm call builds one key (op, expression, options, operand types and shapes, sizes),
finds the compiled plan in a dictionary and calls it: the plan is straight-line backend
code, so the library adds one look-up and one function call. Everything else happens once
per new key, on the cold path below.
"""

from __future__ import annotations

import operator
from typing import NamedTuple

from ._backends import BACKENDS, kind_of, load
from ._errors import NotationError, NotationRankError
from ._factory import call_factory, is_factory
from ._op import forbid_concatenations
from ._parse import parse
from ._solve import dim_size, resolve
from ._writer import Writer, compile_plan

_PLANS = {}
_LIMIT = 20_000  # plans kept before the cache starts afresh


class Call(NamedTuple):
    """What an op's planner receives: the solved layouts and everything the user passed."""

    text: str
    signature: object
    inputs: tuple  # layouts of the operands
    outputs: tuple  # layouts of the outputs
    sizes: dict  # atom name -> size
    shapes: tuple  # operand shapes (() for a scalar)
    options: tuple


_SHAPE = operator.attrgetter("shape")


def run(op, expression, tensors, sizes, options=()):
    """Run `op` on `tensors` through its cached plan (building the plan on a miss).

    The key is (op, expression, options, each operand's type, each operand's shape,
    each size item): built from C-level iterators, no Python loop on the warm path.
    """
    try:
        plan = _PLANS.get((op, expression, options, *map(type, tensors), *map(_SHAPE, tensors),
                           *sizes.items()))
    except (AttributeError, TypeError):
        plan = None
    if plan is None:
        return _cold(op, expression, tensors, sizes, options)
    return plan(*tensors)


def run1(op, expression, tensor, sizes, options=()):
    """`run` for a single operand; builds the same key without unpacking iterators."""
    try:
        if sizes:
            key = (op, expression, options, type(tensor), tensor.shape, *sizes.items())
        else:
            key = (op, expression, options, type(tensor), tensor.shape)
        plan = _PLANS.get(key)
    except (AttributeError, TypeError):
        plan = None
    if plan is None:
        return _cold(op, expression, (tensor,), sizes, options)
    return plan(tensor)


def _key(op, expression, options, tensors, sizes):
    shapes = [getattr(t, "shape", None) for t in tensors]
    return (op, expression, options, *map(type, tensors), *shapes, *sizes.items())


def _normalize(sizes):
    return {k: tuple(v) if isinstance(v, list) else v for k, v in sizes.items()}


def _cold(op, expression, tensors, sizes, options):
    if "backend" in sizes:
        return _on_backend(op, expression, tensors, sizes, options)
    sizes = _normalize(sizes)
    if any(is_factory(t) for t in tensors):
        return _with_factories(op, expression, tensors, sizes, options)
    try:
        key = _key(op, expression, options, tensors, sizes)
        plan = _PLANS.get(key)
    except TypeError:
        key, plan = None, None
    if plan is None:
        backend = choose_backend(tensors, expression, sizes, options)
        plan, _ = build(op, expression, shapes_of(tensors, expression), sizes, options, backend)
        plan = _converting(plan, tensors, backend)
        if key is not None:
            if len(_PLANS) >= _LIMIT:
                _PLANS.clear()
            _PLANS[key] = plan
    return plan(*tensors)


def _converting(plan, tensors, backend):
    """The plan, converting NumPy operands first where they join JAX or TensorFlow tensors:
    its code indexes (`x[i]`, `x.at[i]`) and calls methods that a NumPy array lacks or
    answers with NumPy (a jitted index would reach NumPy as a tracer). Calls on one
    library's tensors keep the plan itself."""
    if backend == "numpy":
        return plan
    mixed = tuple(i for i, t in enumerate(tensors) if kind_of(t) == "numpy")
    if not mixed:
        return plan
    asarray = load(backend).asarray

    def converted(*xs):
        xs = list(xs)
        for i in mixed:
            xs[i] = asarray(xs[i])
        return plan(*xs)

    return converted


def _on_backend(op, expression, tensors, sizes, options):
    """`backend="jax"` (einx's argument): NumPy operands become that backend's tensors; a
    tensor of another library is an error. The call then runs as if given those tensors."""
    sizes = dict(sizes)
    name = sizes.pop("backend")
    if not isinstance(name, str) or name not in BACKENDS:
        raise NotationError(f"unknown backend {name!r}: one of {', '.join(BACKENDS)}",
                            expression if isinstance(expression, str) else None,
                            None, _shown_shapes(tensors), sizes)
    converted = []
    for i, t in enumerate(tensors):
        kind = kind_of(t)
        if kind not in (None, "numpy", name) and not is_factory(t):
            raise NotationError(
                f"backend={name!r} was asked for, but operand {i + 1} is a {kind} tensor: "
                "convert it first, or leave backend= out", expression,
                _operand_span(expression, i), _shown_shapes(tensors), sizes)
        converted.append(load(name).asarray(t) if kind == "numpy" else t)
    return run(op, expression, tuple(converted), sizes, options)


def shapes_of(tensors, expression=None):
    shapes = []
    for t in tensors:
        shape = getattr(t, "shape", None)
        if shape is not None and None in tuple(shape):
            # a tf.function traced without a full input_signature
            raise NotationError(f"a tensor of shape {tuple(shape)} has dimensions of unknown "
                                "size (None); the notation plans for known shapes: trace "
                                "with full shapes (tf.function(input_signature=...))",
                                expression)
        shapes.append(() if shape is None else tuple(int(s) for s in shape))
    return tuple(shapes)


def _operand_span(expression, index):
    """Where operand `index` is written in `expression` (the whole text where unclear)."""
    try:
        spans = parse(expression).input_spans
    except NotationError:
        spans = ()
    if index < len(spans):
        return spans[index]
    return (0, max(1, len(expression))) if isinstance(expression, str) else None


def _shown_shapes(tensors):
    return [type(t).__name__ if kind_of(t) == "?" else shapes_of([t])[0] for t in tensors]


def choose_backend(tensors, expression, sizes, options):
    kinds = set()
    for i, t in enumerate(tensors):
        kind = kind_of(t)
        if kind == "?":
            raise NotationRankError(
                f"operand {i + 1} is a {type(t).__name__}, not a tensor: pass a NumPy, JAX or "
                "PyTorch tensor (np.asarray(...) converts lists), a Python number, or a "
                "callable that makes the tensor from its shape", expression,
                _operand_span(expression, i), _shown_shapes(tensors), sizes)
        if kind is not None:
            mixed = kinds | {kind}
            # NumPy arrays may join the tensors of a library whose functions take them
            # (JAX, TensorFlow); any other mix would reach a function that refuses one
            # operand, or silently run on NumPy
            if len(mixed - {"numpy"}) > 1 or ("numpy" in mixed and len(mixed) > 1
                                              and not mixed <= _TAKES_NUMPY):
                raise NotationError(
                    f"operands mix {' and '.join(sorted(mixed))} tensors; convert them "
                    f"to one library first ({_convert(kind)} or {_convert(min(kinds))})",
                    expression, _operand_span(expression, i), _shown_shapes(tensors), sizes)
            kinds.add(kind)
    if len(kinds) > 1:
        kinds.discard("numpy")
    if kinds:
        return kinds.pop()
    return dict(options).get("backend", "numpy")


_TAKES_NUMPY = {"numpy", "jax", "tensorflow"}
_CONVERT = {"numpy": "np.asarray(...)", "jax": "jnp.asarray(...)",
            "torch": "torch.as_tensor(...)", "tensorflow": "tf.convert_to_tensor(...)"}


def _convert(kind):
    """How a user makes a tensor of `kind` (`arrayapi:<namespace>` names its namespace)."""
    return _CONVERT.get(kind) or f"{kind.partition(':')[2]}.asarray(...)"


def build(op, expression, shapes, sizes, options, backend_name):
    """Compile the plan of one call; returns (function, source)."""
    try:
        call = prepare(op, expression, shapes, sizes, options)
        backend = load(backend_name)
        writer = Writer(backend, len(shapes))
        for i, shape in enumerate(shapes):
            writer.shapes[f"x{i}"] = tuple(shape)
        results = op.write(writer, call)
        source = writer.source(op.name, results)
        plan = backend.wrap(compile_plan(source, backend.namespace(), op.name,
                                         writer.constants))
    except NotationError as error:
        raise error.with_context(expression, shapes, sizes) from None
    return plan, source


def prepare(op, expression, shapes, sizes, options, complete=True):
    """Parse, desugar and solve: the `Call` an op's planner works from."""
    signature = parse(expression)
    inputs, outputs, spans = op.operands(signature, len(shapes), dict(options))
    if not op.concatenates:
        forbid_concatenations(op, signature, tuple(inputs) + tuple(outputs))
    resolved = resolve(signature.text, inputs, outputs, shapes, sizes, spans,
                       complete=complete, together=getattr(op, "solves_together", False))
    return Call(signature.text, signature, resolved.inputs, resolved.outputs, resolved.sizes,
                shapes, options)


def _with_factories(op, expression, tensors, sizes, options):
    """Solve the shapes of the operands that are tensor factories, make them, run."""
    shapes = [None if is_factory(t) else tuple(getattr(t, "shape", ())) for t in tensors]
    try:
        signature = parse(expression)
        inputs, outputs, spans = op.operands(signature, len(tensors), dict(options))
        if not op.concatenates:
            forbid_concatenations(op, signature, tuple(inputs) + tuple(outputs))
        resolved = resolve(signature.text, inputs, outputs, shapes, sizes, spans)
    except NotationError as error:
        raise error.with_context(expression, [s if s is not None else "factory" for s in shapes],
                                 sizes) from None
    made = list(tensors)
    for i, t in enumerate(tensors):
        if is_factory(t):
            shape = tuple(dim_size(d, resolved.sizes) for d in resolved.inputs[i])
            try:
                made[i] = call_factory(t, shape, op.name, expression, i, resolved, tensors)
            except NotationError as error:
                shown = ["factory" if s is None else s for s in shapes]
                raise type(error)(error.reason, expression, spans[i] if i < len(spans) else None,
                                  shown, sizes) from None
    return run(op, expression, tuple(made), sizes, options)
