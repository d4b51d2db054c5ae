"""The PyTorch backend: plans call tensor methods and `torch.*` (traceable by torch.compile)."""

from __future__ import annotations

import torch

from ._base import Backend, check_bounds, check_python_index, dtype_error

_TORCH_DTYPES = {name: f"torch.{name}" for name in (
    "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float16",
    "float32", "float64")}


def _logsumexp(x, axis, keepdims=False):
    return torch.logsumexp(x, dim=axis, keepdim=keepdims)


def _index(i, n, where):
    """Integer indices as int32 or int64 (PyTorch reads uint8 as a boolean mask and rejects
    int8 and int16); in [-n, n) where they are concrete (not under torch.compile, vmap or
    tracing)."""
    if not isinstance(i, torch.Tensor):
        dtype = getattr(i, "dtype", None)  # a NumPy scalar
        if dtype is not None and dtype.kind in "iu":
            i = int(i)
        return check_python_index(i, n, where)
    dtype = i.dtype
    if dtype.is_floating_point or dtype.is_complex or dtype == torch.bool:
        raise dtype_error(dtype, where)
    if dtype not in (torch.int64, torch.int32):
        i = i.long()
    if i.numel() and not (torch.compiler.is_compiling() or torch.jit.is_tracing()
                          or torch._C._functorch.is_batchedtensor(i)):
        low, high = torch.aminmax(i)
        check_bounds(int(low), int(high), n, where)
    return i


class TorchBackend(Backend):
    name = "torch"
    xp = "torch"
    softmax_one_axis = True  # torch.softmax normalizes along one axis

    def asarray(self, x):
        return torch.as_tensor(x)

    def namespace(self):
        return {"torch": torch, "_logsumexp": _logsumexp, "_index": _index}

    def transpose(self, x, perm):
        return f"{x}.permute({tuple(perm)!r})"

    def broadcast_to(self, x, shape):
        return f"{x}.expand({tuple(shape)!r})"

    def concatenate(self, xs, axis):
        return f"torch.cat([{', '.join(xs)}], dim={axis})"

    def stack(self, xs, axis):
        return f"torch.stack([{', '.join(xs)}], dim={axis})"

    def einsum(self, spec, xs):
        return f"torch.einsum({spec!r}, {', '.join(xs)})"

    def reduce(self, kind, x, axes, keepdims):
        dims = tuple(axes)
        keep = ", keepdim=True" if keepdims else ""
        if kind in ("sum", "mean", "any", "all", "logsumexp"):
            return f"torch.{kind}({x}, dim={dims!r}{keep})"
        if kind in ("max", "min"):
            return f"torch.a{kind}({x}, dim={dims!r}{keep})"
        if kind in ("var", "std"):
            return f"torch.{kind}({x}, dim={dims!r}, correction=0{keep})"
        if kind == "count_nonzero":
            inner = f"torch.count_nonzero({x}, dim={dims!r})"
            return inner if not keepdims else self._restore(inner, dims)
        if kind == "prod":
            if len(dims) == 1:
                return f"torch.prod({x}, dim={dims[0]}{keep})"
            return None  # one axis at a time in torch: the planner flattens first
        raise ValueError(kind)

    def _restore(self, inner, dims):
        out = inner
        for d in sorted(dims):
            out = f"{out}.unsqueeze({d})"
        return out

    def softmax(self, kind, x, axes):
        (axis,) = axes  # the planner flattens several softmax axes into one
        return f"torch.{kind}({x}, dim={axis})"

    def roll(self, x, shifts, axes):
        return f"torch.roll({x}, {tuple(shifts)!r}, dims={tuple(axes)!r})"

    def flip(self, x, axes):
        return f"torch.flip({x}, dims={tuple(axes)!r})"

    def sort(self, kind, x, axis):
        if kind == "sort":
            return f"torch.sort({x}, dim={axis}).values"
        return f"torch.argsort({x}, dim={axis})"

    def arg(self, kind, x, axis):
        return f"torch.{kind}({x}, dim={axis})"

    # torch.arange has no kernel for the wider unsigned dtypes: those are converted to
    arange_dtypes = ("int8", "int16", "int32", "int64", "uint8", "float16", "float32",
                     "float64")

    def arange(self, n, dtype):
        return f"torch.arange({n}, dtype={_TORCH_DTYPES[dtype]})"

    def astype(self, x, dtype):
        return f"{x}.to({_TORCH_DTYPES[dtype]})"

    def number(self, x, like=None):
        # torch.maximum, minimum, logaddexp, logical_and... take tensors only
        return f"torch.as_tensor({x})"

    def elementwise(self, kind, xs):
        if kind == "where":  # torch.where takes a bool condition only; NumPy's tests x != 0
            xs = [f"{xs[0]}.bool()", *xs[1:]]
        if kind in ("logical_and", "logical_or", "logical_not", "maximum", "minimum", "where",
                    "logaddexp"):
            return f"torch.{kind}({', '.join(xs)})"
        return super().elementwise(kind, xs)

    def scatter(self, kind, x, index, update):
        where = ", ".join(index)
        # index_put takes updates of the tensor's dtype only; NumPy and JAX convert them
        # (float32 updates into a float64 table, ints into floats), and so does this
        update = f"torch.as_tensor({update}, dtype={x}.dtype)"
        if kind == "set_at":
            return [], f"{x}.index_put(({where},), {update})"
        sign = "" if kind == "add_at" else "-"
        return [], f"{x}.index_put(({where},), {sign}{update}, accumulate=True)"


BACKEND = TorchBackend()


def _register_with_torch_compile():
    """Let torch.compile record each op as one call in its graph, as einops does.

    Dynamo then does not trace the engine's Python, which on a first call builds a plan with
    `exec` and would break the graph; AOTAutograd runs the op on fake tensors instead, so
    the compiled graph holds exactly the plan's torch calls. This imports torch._dynamo
    (about a second, once) the first time a PyTorch tensor reaches the notation.
    """
    import sys

    from .._registry import NAMES

    ein = sys.modules[__name__.rsplit(".", 2)[0]]
    for name in NAMES:
        torch.compiler.allow_in_graph(getattr(ein, name))


_register_with_torch_compile()
