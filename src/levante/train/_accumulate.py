"""Gradient accumulation: the gradient of a large batch from several smaller passes."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ._errors import TrainError


def _micro_batches(x, steps):
    """`(r k) ... -> k r ...`: micro-batch i takes rows i, i + k, i + 2k, ..., so that a
    batch split over devices by rows keeps every micro-batch's rows where they are."""
    if x.shape[0] % steps:
        raise TrainError(f"a batch of {x.shape[0]} rows cannot split into {steps} equal "
                         "micro-batches (--grad-accum): use a multiple of it")
    return jnp.swapaxes(x.reshape(x.shape[0] // steps, steps, *x.shape[1:]), 0, 1)


def accumulate_gradients(loss, params, batch, steps=1, key=None):
    """(mean loss, mean gradient) of `loss(params, *batch)` over `steps` equal micro-batches.

        L = 1/K Σₖ L(params, batchₖ),   ∇L = 1/K Σₖ ∇L(params, batchₖ)

    For a loss that is a mean over rows this equals the loss and gradient of the whole
    batch (up to float rounding), while only one micro-batch's activations are alive at a
    time: a `lax.scan` runs the K forward and backward passes one after another and sums
    the gradients in the parameters' dtype. `batch` is a tuple of arrays with rows first;
    micro-batch k takes rows k, k + K, ... With `key`, micro-batch k gets
    `loss(params, *batchₖ, key=fold_in(key, k))` (dropout). Raises `TrainError` when K
    does not divide the rows. As `gradient_accumulation_steps` in nanoGPT and
    `optax.MultiSteps` (which accumulates across optimizer calls instead).

    >>> import jax.numpy as jnp
    >>> loss = lambda w, x, y: jnp.mean((x @ w - y) ** 2)
    >>> w, x, y = jnp.ones(3), jnp.arange(12.0).reshape(4, 3), jnp.zeros(4)
    >>> whole = jax.value_and_grad(loss)(w, x, y)
    >>> parts = accumulate_gradients(loss, w, (x, y), steps=2)
    >>> bool(jnp.allclose(whole[0], parts[0])), bool(jnp.allclose(whole[1], parts[1]))
    (True, True)
    """
    if not isinstance(steps, int) or steps < 1:
        raise TrainError(f"gradient accumulation takes a whole number of steps >= 1, not "
                         f"{steps!r}")
    batch = tuple(batch)
    grad = jax.value_and_grad(loss)
    if steps == 1:
        return grad(params, *batch) if key is None else grad(params, *batch, key=key)
    micro = tuple(_micro_batches(x, steps) for x in batch)  # k r ...

    def one(carry, inputs):
        index, part = inputs
        total, grads = carry
        value, g = (grad(params, *part) if key is None
                    else grad(params, *part, key=jax.random.fold_in(key, index)))
        return (total + value, jax.tree.map(jnp.add, grads, g)), None

    zeros = jax.tree.map(jnp.zeros_like, params)
    start = (jnp.zeros((), jnp.float32), zeros)
    (total, grads), _ = jax.lax.scan(one, start, (jnp.arange(steps), micro))
    return total / steps, jax.tree.map(lambda g: g / steps, grads)
