"""The `levante` command.

    levante demo                          a tour of the notation on small tensors
    levante explain OP EXPR SHAPE...      the plan an op runs, as Python code
"""

from __future__ import annotations

import argparse
import sys


def _shape(text):
    try:
        return tuple(int(s) for s in text.replace("x", ",").split(",") if s.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"a shape is written 2,3,4 (or 2x3x4), not {text!r}")


def _sizes(pairs):
    sizes = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        if not value.isdigit():
            raise SystemExit(f"levante: a size is written name=INT, not {pair!r}")
        sizes[name] = int(value)
    return sizes


def demo(args):
    import numpy as np

    from levante import ein

    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 4, 4, 3)).astype(np.float32)  # b h w c
    steps = [
        ("patches: b (h ph) (w pw) c -> b (h w) (ph pw c)",
         lambda: ein.rearrange("b (h ph) (w pw) c -> b (h w) (ph pw c)", x, ph=2, pw=2)),
        ("class token: b s... c, c -> b (1 + (s...)) c",
         lambda: ein.rearrange("b s... c, c -> b (1 + (s...)) c", x, np.zeros(3, np.float32))),
        ("mean over space: b [h w] c", lambda: ein.mean("b [h w] c", x)),
        ("linear layer: b... [c1->c2]",
         lambda: ein.dot("b... [c1->c2]", x, rng.normal(size=(3, 5)).astype(np.float32))),
        ("attention scores: b q (h c), b k (h c) -> b q k h",
         lambda: ein.dot("b q (h c), b k (h c) -> b q k h", x.reshape(2, 16, 3),
                         x.reshape(2, 16, 3), h=3)),
        ("softmax over keys: b q [k] h",
         lambda: ein.softmax("b q [k] h", rng.normal(size=(2, 16, 16, 3)))),
        ("embedding look-up: [v] c, b t -> b t c",
         lambda: ein.get_at("[v] c, b t -> b t c", rng.normal(size=(10, 8)),
                            np.array([[1, 2, 3]]))),
    ]
    for title, step in steps:
        print(f"{title:55} -> shape {step().shape}")
    print()
    print("The plan behind the linear layer, as levante runs it:")
    print(ein.explain("dot", "b... [c1->c2]", (2, 4, 4, 3), (3, 5)))
    try:
        ein.rearrange("b (s w) c -> b s w c", np.zeros((2, 30, 3)), w=16)
    except ein.NotationError as error:
        print("And a mistake, as levante reports it:")
        print(f"NotationError: {error}")
    return 0


def explain(args):
    from levante import ein

    try:
        print(ein.explain(args.op, args.expression, *args.shapes, **_sizes(args.size)), end="")
    except ein.NotationError as error:
        print(f"levante: {error}", file=sys.stderr)
        return 2
    return 0


def parser():
    root = argparse.ArgumentParser(prog="levante", description=__doc__.splitlines()[0])
    commands = root.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="a tour of the notation").set_defaults(run=demo)
    ex = commands.add_parser("explain", help="print the plan of a notation op as Python code")
    ex.add_argument("op", help="an op of levante.ein, e.g. dot")
    ex.add_argument("expression", help='e.g. "b [c1->c2]"')
    ex.add_argument("shapes", nargs="*", type=_shape, help="operand shapes, e.g. 2,3 3,4")
    ex.add_argument("--size", action="append", default=[], help="an axis size, e.g. h=8")
    ex.set_defaults(run=explain)
    return root


def main(argv=None):
    args = parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
