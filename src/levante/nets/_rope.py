"""Rotary position embedding (RoPE; Su et al. 2021, "RoFormer").

Each pair of features (x₁, x₂) at position m is rotated by the angle m·θᵢ,
θᵢ = max_wavelength^(-2i/d):

    y₁ = x₁ cos(mθᵢ) - x₂ sin(mθᵢ)
    y₂ = x₂ cos(mθᵢ) + x₁ sin(mθᵢ)

Pairs are (i, i + d/2) by default (half-split, the GPT-NeoX / Hugging Face convention) or
(2i, 2i + 1) with `interleaved=True` (the paper's and Meta's original layout). Positions are
`(arange(S) + offset) / scaling_factor` unless given. Angles are computed in float32 whatever
the input dtype; the output has the input's dtype.
"""

from __future__ import annotations

import jax.numpy as jnp

from ._errors import NetsError


def rope(x, sequence_axis=1, feature_axis=-1, max_wavelength=10_000, scaling_factor=1.0,
         offset=0, positions=None, interleaved=False):
    """Rotate feature pairs of `x` by angles proportional to their position.

    `positions`, when given, has shape (S,) or (B, S) with B the size of axis 0 (a batch
    axis before the sequence axis); `offset` (an int or a traced scalar) shifts
    `arange(S)` for cached decoding.

    >>> import jax.numpy as jnp
    >>> rope(jnp.ones((1, 4, 6)))[0, 1].round(4).tolist()
    [-0.3012, 0.9525, 0.9978, 1.3818, 1.0453, 1.0022]
    """
    rank = x.ndim
    seq, feat = _axis(sequence_axis, rank, "sequence_axis"), _axis(feature_axis, rank,
                                                                    "feature_axis")
    if seq == feat:
        raise NetsError("rope: sequence_axis and feature_axis must differ")
    dim, length = x.shape[feat], x.shape[seq]
    if dim % 2:
        raise NetsError(f"rope rotates feature pairs, so the feature size must be even; got {dim}")
    if positions is None:
        positions = jnp.arange(length, dtype=jnp.float32) + jnp.asarray(offset, jnp.float32)
    positions = jnp.asarray(positions, jnp.float32) / scaling_factor
    if positions.shape[-1] != length or positions.ndim > 2:
        raise NetsError(f"rope: positions must have shape ({length},) or (batch, {length}); "
                        f"got {positions.shape}")
    half = dim // 2
    inverse = max_wavelength ** (-jnp.arange(half, dtype=jnp.float32) * 2 / dim)
    angles = positions[..., None] * inverse  # [b] s (d/2)
    cos, sin = _place(jnp.cos(angles), seq, feat, rank), _place(jnp.sin(angles), seq, feat, rank)
    moved = jnp.moveaxis(x, feat, -1).astype(jnp.float32)
    if interleaved:
        first, second = moved[..., 0::2], moved[..., 1::2]
    else:
        first, second = moved[..., :half], moved[..., half:]
    out1 = first * cos - second * sin
    out2 = second * cos + first * sin
    if interleaved:
        rotated = jnp.stack([out1, out2], axis=-1).reshape(moved.shape)
    else:
        rotated = jnp.concatenate([out1, out2], axis=-1)
    return jnp.moveaxis(rotated, -1, feat).astype(x.dtype)


def _axis(axis, rank, name):
    if not -rank <= axis < rank:
        raise NetsError(f"rope: {name}={axis} is outside the input's rank {rank}")
    return axis % rank


def _place(table, seq, feat, rank):
    """Broadcast a ([b,] s, d/2) table against x moved to (..., d/2) (feature axis last)."""
    others = [a for a in range(rank) if a != feat]  # axes of x after moving features last
    position = others.index(seq)
    shape = [1] * (rank - 1) + [table.shape[-1]]
    shape[position] = table.shape[-2]
    if table.ndim == 3:
        shape[0] = table.shape[0]
    return table.reshape(shape)
