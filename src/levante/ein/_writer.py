"""Writes a plan as Python source and compiles it into a function.

Each step is a line `tN = <backend call>`. Before compiling, steps whose result nothing
uses are dropped, and a reshape of a reshape reads straight from the first one's input,
so that decomposing then recomposing an operand costs one reshape at most.

Nothing a caller passes becomes source text: sizes, axes and shifts are written as Python
ints, names as the writer's own (`x0`, `t1`, the backend's aliases), and any other value a
plan needs (an index check's context) is bound to a constant name `cN` in the plan's scope.
`compile_plan` checks the source against that rule before compiling it.
"""

from __future__ import annotations

import ast
import math
import re

from ._errors import NotationError


class Writer:
    def __init__(self, backend, arity):
        self.backend = backend
        self.arguments = [f"x{i}" for i in range(arity)]
        self.steps = []  # (name or None, source text, names it reads)
        self.shapes = {}  # name -> shape, where the planner knows it
        self.reshaped = {}  # name -> the name it is a reshape of
        self.constants = {}  # cN -> a value the plan reads, bound in its scope
        self.count = 0

    def constant(self, value):
        """A name under which the plan reads `value` (never written into the source)."""
        name = f"c{len(self.constants)}"
        self.constants[name] = value
        return name

    def let(self, text, reads, shape=None):
        self.count += 1
        name = f"t{self.count}"
        self.steps.append((name, text, tuple(reads)))
        if shape is not None:
            self.shapes[name] = tuple(shape)
        return name

    def statement(self, text, reads, writes):
        self.steps.append((writes, text, tuple(reads)))

    # -- layout primitives that skip no-ops
    def reshape(self, x, shape):
        shape = tuple(int(s) for s in shape)
        if self.shapes.get(x) == shape:
            return x
        source = self.reshaped.get(x, x)
        if self.shapes.get(source) == shape:
            return source
        if source in self.arguments and self.shapes.get(source) == ():
            # a Python number operand has no .reshape: make it a tensor of the backend first
            source = self.let(self.backend.scalar(source), [source], ())
        name = self.let(self.backend.reshape(source, shape), [source], shape)
        self.reshaped[name] = source
        return name

    def transpose(self, x, perm):
        perm = tuple(perm)
        if perm == tuple(range(len(perm))):
            return x
        shape = self.shapes.get(x)
        new_shape = None if shape is None else tuple(shape[p] for p in perm)
        return self.let(self.backend.transpose(x, perm), [x], new_shape)

    def broadcast_to(self, x, shape):
        shape = tuple(int(s) for s in shape)
        if self.shapes.get(x) == shape:
            return x
        return self.let(self.backend.broadcast_to(x, shape), [x], shape)

    def call(self, text, reads, shape=None):
        return self.let(text, reads, shape)

    # -- output
    def source(self, title, results):
        body = self._live(results)
        lines = [f"def {title}({', '.join(self.arguments)}):"]
        lines += [f"    {name} = {text}" if isinstance(name, str) else f"    {text}"
                  for name, text, _ in body]
        returned = results[0] if len(results) == 1 else "(" + ", ".join(results) + ",)"
        lines.append(f"    return {returned}")
        return "\n".join(lines) + "\n"

    def _live(self, results):
        needed = set(results)
        kept = []
        for step in reversed(self.steps):
            writes, _, reads = step
            written = (writes,) if isinstance(writes, str) else tuple(writes or ())
            if any(w in needed for w in written) or writes is None:
                kept.append(step)
                needed.update(reads)
        return list(reversed(kept))


def compile_plan(source, namespace, title, constants=None):
    scope = dict(namespace)
    scope.update(constants or {})
    tree = ast.parse(source)
    check_source(tree, set(scope))
    exec(compile(tree, f"<levante.ein plan {title}>", "exec"), scope)
    return scope[title]


# what a plan is made of: anything else means a value reached the source unchecked
_NODES = (ast.Module, ast.FunctionDef, ast.arguments, ast.arg, ast.Assign, ast.Return, ast.Expr,
          ast.Call, ast.keyword, ast.Attribute, ast.Name, ast.Constant, ast.Tuple, ast.List,
          ast.Subscript, ast.Slice, ast.UnaryOp, ast.USub, ast.BinOp, ast.Add, ast.Sub,
          ast.Mult, ast.Div, ast.FloorDiv, ast.Pow, ast.Mod, ast.Compare, ast.Lt, ast.LtE,
          ast.Gt, ast.GtE, ast.Eq, ast.NotEq, ast.Load, ast.Store)
_LOCAL = re.compile(r"(x|t|c)[0-9]+|out")
_SPEC = re.compile(r"[A-Za-z_,.>-]*")  # einsum specifications and op names


def _unwritable(what):
    return NotationError(f"a value passed to the op cannot be part of its plan ({what}): "
                         "sizes, shifts and dtypes are plain ints and dtype names")


def check_source(tree, scope_names):
    """Raise unless `tree` is a plan written from the writer's own parts.

    Names are arguments, steps, constants or the backend's aliases; constants are ints or
    einsum specifications; attributes are plain identifiers of the backend's API.
    """
    for node in ast.walk(tree):
        if not isinstance(node, _NODES):
            raise _unwritable(f"a plan holds a {type(node).__name__}: {ast.unparse(node)}")
        if isinstance(node, ast.Name) and not (_LOCAL.fullmatch(node.id)
                                               or node.id in scope_names):
            raise _unwritable(f"a plan names {node.id!r}, which the writer never made")
        if isinstance(node, ast.Constant) and not (
                node.value is None or node.value is Ellipsis or type(node.value) in (int, bool)
                or (type(node.value) is str and _SPEC.fullmatch(node.value))):
            raise _unwritable(f"a plan holds the constant {node.value!r}")
        if isinstance(node, ast.Attribute) and node.attr.startswith("__"):
            raise _unwritable(f"a plan reads the attribute {node.attr!r}")


def product(values):
    return math.prod(values)
