"""Writes a plan as Python source and compiles it into a function.

Each step is a line `tN = <backend call>`. Before compiling, steps whose result nothing
uses are dropped, and a reshape of a reshape reads straight from the first one's input,
so that decomposing then recomposing an operand costs one reshape at most.
"""

from __future__ import annotations

import math


class Writer:
    def __init__(self, backend, arity):
        self.backend = backend
        self.arguments = [f"x{i}" for i in range(arity)]
        self.steps = []  # (name or None, source text, names it reads)
        self.shapes = {}  # name -> shape, where the planner knows it
        self.reshaped = {}  # name -> the name it is a reshape of
        self.count = 0

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
            source = self.let(f"{self.backend.xp}.asarray({source})", [source], ())
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


def compile_plan(source, namespace, title):
    scope = dict(namespace)
    exec(compile(source, f"<levante.ein plan {title}>", "exec"), scope)
    return scope[title]


def product(values):
    return math.prod(values)
