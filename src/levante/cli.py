"""The `levante` command.

    levante train [--layers 4 --width 128 ... | --config FILE | --resume RUN]
    levante train --init-from GPT2_DIR --data my.txt      fine-tune a Hugging Face GPT-2
    levante sample RUN --prompt "ROMEO:" --tokens 500 --temperature 0.8 --top-k 40
    levante sample GPT2_DIR --prompt "Hello"              a Hugging Face GPT-2 directory too
    levante export RUN --format hf OUT                    a GPT-2-shaped run for transformers
    levante bench [model flags] [--json]
    levante demo                          a tour of the notation on small tensors
    levante explain OP EXPR SHAPE...      the plan of a notation op, as Python code

Every failure the user can fix ends with a one-paragraph message and a non-zero exit
status, never a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import signal
import sys
import threading
import warnings

EXIT_USAGE = 2


def _shape(text):
    try:
        return tuple(int(s) for s in text.replace("x", ",").split(",") if s.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"a shape is written 2,3,4 (or 2x3x4), not {text!r}") from None


def _sizes(pairs):
    sizes = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        if not value.isdigit():
            raise SystemExit(f"levante: a size is written name=INT, not {pair!r}")
        sizes[name] = int(value)
    return sizes


def _whole_number(text):
    """`text` as an int, or argparse's error saying a whole number is expected."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a whole number is expected, not {text!r}") from None


def _count(text):
    """An int >= 1 (a count of tokens or steps), for argparse."""
    value = _whole_number(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"at least 1, not {value}")
    return value


def _temperature(text):
    """A finite float >= 0, for argparse (NaN would pass `< 0` and sample garbage)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a number is expected, not {text!r}") from None
    if not 0.0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"a finite number >= 0 (0: greedy), not {text}")
    return value


def _top_k(text):
    """An int >= 0 (0 keeps every token), for argparse."""
    value = _whole_number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"at least 0 (0 keeps every token), not {value}")
    return value


def _seed(text):
    """An int that fits a 64-bit seed, for argparse (jax.random.key overflows beyond)."""
    value = _whole_number(text)
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"a whole number in [0, 2**63), not {value}")
    return value


def _add_settings(parser):
    """One flag per training setting (defaults None: the config file or the default wins)."""
    from levante.train import TrainConfig
    from levante.train._config import HELP

    for field in dataclasses.fields(TrainConfig):
        flag = "--" + field.name.replace("_", "-")
        default = field.default
        # HELP names the default where it is not a value (the bundled corpus, runs/<model>)
        help = HELP[field.name] if "(default:" in HELP[field.name] else \
            f"{HELP[field.name]} (default: {default})"
        if isinstance(default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None,
                                help=help)
        else:
            kind = {int: int, float: float}.get(type(default), str)
            if field.name in ("lr", "min_lr", "dropout", "temperature", "weight_decay", "beta2",
                              "clip", "validation"):
                kind = float
            parser.add_argument(flag, type=kind, default=None, metavar=field.name.upper(),
                                help=help)
    parser.add_argument("--config", metavar="FILE", help="read settings from a TOML or JSON file")


def _settings(args):
    from levante.train import TrainConfig
    from levante.train._config import from_mapping, read_config_file

    values = read_config_file(args.config) if args.config else {}
    for field in dataclasses.fields(TrainConfig):
        given = getattr(args, field.name)
        if given is not None:
            values[field.name] = given
    if isinstance(values.get("mesh"), str):
        # written, even empty ("--mesh=", mesh = ""): the default "" means "not given"
        from levante.train._mesh import parse_mesh

        parse_mesh(values["mesh"])
    return from_mapping(values, args.config or "the command line")


def train(args):
    from levante.train import TrainConfig, TrainError
    from levante.train import train as run_training

    if args.resume:
        given = [f.name for f in dataclasses.fields(TrainConfig)
                 if f.name != "steps" and getattr(args, f.name) is not None]
        if given or args.config:
            flags = ", ".join("--" + n.replace("_", "-") for n in given) or "--config"
            raise TrainError(f"--resume continues a run with its own settings; {flags} cannot "
                             "change them (only --steps can extend the run)")
        from levante.train._distributed import check_resume_processes

        check_resume_processes(args.resume, args.num_processes)  # before waiting for others
        run_training(None, resume=args.resume, steps=args.steps, stream=_stream(args))
    else:
        settings = _settings(args)
        if settings.init_from is not None:
            _check_init_from(args, settings.init_from)
        run_training(settings, stream=_stream(args))
    return 0


def _stream(args):
    """Join the processes of a run (`--coordinator`), and where this process prints: only
    process 0 speaks."""
    from levante.train import initialize_distributed
    from levante.train._distributed import check_distributed

    if not check_distributed(args.coordinator, args.num_processes, args.process_id):
        return None
    initialize_distributed(args.coordinator, args.num_processes, args.process_id)
    return None if args.process_id == 0 else open(os.devnull, "w")


# the settings a fine-tuned GPT-2 takes from its checkpoint (and the LSTM's size)
ARCHITECTURE = ("layers", "heads", "width", "hidden", "positions", "gated", "norm",
                "activation", "bias", "tie")


def _check_init_from(args, path):
    """Every architecture setting the user wrote (flag or config file), a value equal to
    levante's default included, against the checkpoint's: each disagreement is named."""
    from levante.models import gpt2
    from levante.train import TrainError
    from levante.train._config import read_config_file
    from levante.train._run import check_architecture, pretrained_architecture

    written = {}
    if args.config:
        for name, value in read_config_file(args.config).items():
            if name in ARCHITECTURE:
                written[name] = (value, f"{name} = {value!r} in {args.config}")
    for name in ARCHITECTURE:
        value = getattr(args, name)
        if value is not None:
            flag = "--" + name
            shown = (flag if value else "--no-" + name) if isinstance(value, bool) else \
                f"{flag} {value}"
            written[name] = (value, shown)
    try:
        pretrained = gpt2.load_config(path)
    except gpt2.CheckpointError as error:
        raise TrainError(f"--init-from: {error}") from None
    check_architecture(path, pretrained_architecture(pretrained), written)


# files that mark a Hugging Face directory even when its config.json is missing
HF_FILES = ("config.json", "model.safetensors", "model.safetensors.index.json",
            "pytorch_model.bin", "pytorch_model.bin.index.json")


def _is_hf_directory(path):
    from pathlib import Path

    path = Path(path)
    return (any((path / name).is_file() for name in HF_FILES)
            and not (path / "run.json").exists())


def _load_hf(path):
    """(name, tokenizer, model config, params) of a Hugging Face GPT-2 directory."""
    from levante.models import gpt2

    params, config = gpt2.load(path)
    tokenizer = gpt2.load_tokenizer(path, config)
    # an embedding padded past the tokenizer: the padded ids are never drawn
    params, config = gpt2.fit_vocabulary(params, config, tokenizer)
    return "gpt2", tokenizer, config, params


def export(args):
    from pathlib import Path

    from levante.data import BPETokenizer
    from levante.models import gpt2
    from levante.train import load_params

    out = Path(args.out)
    if out.exists() and not (out.is_dir() and not any(out.iterdir())):
        # never write over another model's files
        raise gpt2.CheckpointError(f"{out} already exists and is not an empty directory; "
                                   "give a new directory for the export (or remove it first)")
    _, vocab, _, model_config, params = load_params(args.run)
    tokenizer = vocab if isinstance(vocab, BPETokenizer) else None
    gpt2.save(params, model_config, args.out, tokenizer=tokenizer)
    kept = "" if tokenizer else (" (the run's character vocabulary has no Hugging Face form: "
                                 "the directory holds the weights and config.json only)")
    print(f"levante export: {args.run} written to {args.out} as a Hugging Face GPT-2{kept}",
          file=sys.stderr)
    return 0


def _prompt(args):
    """The prompt as text: `--escapes` reads backslash escapes (\\n, \\t, \\x41, \\u00e9)."""
    from levante.models._generate import SamplingError

    prompt = args.prompt
    if prompt == "":
        raise SamplingError("--prompt is empty: give at least one character to continue "
                            "(without --prompt, sampling starts from a newline)")
    if args.escapes:
        try:
            # non-Latin-1 characters pass through as \\uXXXX, which unicode_escape reads back
            prompt = prompt.encode("latin-1", "backslashreplace").decode("unicode_escape")
        except UnicodeDecodeError as error:
            raise SamplingError(f"--escapes cannot read {args.prompt!r}: {error.reason} at "
                                f"character {error.start}; write \\\\ for a backslash, \\n for "
                                "a newline, \\xHH with two hex digits") from None
    return prompt


def _escape_hint(args, prompt):
    if not args.escapes and re.search(r"\\[ntr]", prompt):
        return " (the prompt holds a backslash sequence such as \\n: add --escapes to read it " \
            "as a newline)"
    return ""


def _is_bpe(vocab):
    from levante.data import BPETokenizer

    return isinstance(vocab, BPETokenizer)


def sample(args):
    import jax

    from levante.data import DataError
    from levante.models import generate
    from levante.train import load_params

    prompt = _prompt(args)
    if _is_hf_directory(args.run):
        name, vocab, model_config, params = _load_hf(args.run)
    else:
        settings, vocab, _, model_config, params = load_params(args.run)
        name = settings.model
    try:
        ids = vocab.encode(prompt)
    except DataError as error:
        raise DataError(f"{error}{_escape_hint(args, prompt)}") from None
    hint = _escape_hint(args, prompt)
    if hint:
        print(f"levante sample: note{hint}", file=sys.stderr)
    print(f"levante sample: {name} of {args.run}; compiling the sampler and drawing "
          f"{args.tokens} {'tokens' if _is_bpe(vocab) else 'characters'} "
          "(compiling takes a few seconds)...", file=sys.stderr,
          flush=True)
    with _EndOnInterrupt():
        out = generate(params, model_config, ids, args.tokens, jax.random.key(args.seed),
                       temperature=args.temperature, top_k=args.top_k or None)
    print(prompt + vocab.decode(out))
    return 0


def bench(args):
    from levante.train._bench import measure

    figures = measure(_settings(args), steps=args.bench_steps)
    if args.json:
        print(json.dumps(figures))
    else:
        print(f"{figures['model']}: {figures['layers']} layers, {figures['heads']} heads, width "
              f"{figures['width']}, block {figures['block']}, batch {figures['batch']}")
        print(f"training: {figures['train_ms_per_step']:.2f} ms/step, "
              f"{figures['train_tokens_per_s']:,.0f} tokens/s")
        print(f"sampling: {figures['sample_tokens_per_s']:,.0f} tokens/s "
              f"({figures['sample_tokens']} tokens, KV cache)")
    return 0


def demo(args):
    import numpy as np

    from levante import ein

    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 4, 4, 3)).astype(np.float32)  # b h w c
    steps = [
        ("patches: b (h ph) (w pw) c -> b (h w) (ph pw c)",
         lambda: ein.rearrange("b (h ph) (w pw) c -> b (h w) (ph pw c)", x, ph=2, pw=2)),
        ("class token: c, b s... c -> b (1 + (s...)) c",
         lambda: ein.rearrange("c, b s... c -> b (1 + (s...)) c", np.zeros(3, np.float32), x)),
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
    print("\nThe plan behind the linear layer, as levante runs it:")
    print(ein.explain("dot", "b... [c1->c2]", (2, 4, 4, 3), (3, 5)))
    try:
        ein.rearrange("b (s w) c -> b s w c", np.zeros((2, 30, 3)), w=16)
    except ein.NotationError as error:
        print(f"And a mistake, as levante reports it:\nNotationError: {error}")
    return 0


def explain(args):
    from levante import ein

    print(ein.explain(args.op, args.expression, *args.shapes, **_sizes(args.size)), end="")
    return 0


def parser():
    root = argparse.ArgumentParser(prog="levante", description=__doc__.splitlines()[0])
    commands = root.add_subparsers(dest="command", required=True)

    tr = commands.add_parser("train", help="train a model (character-level, or GPT-2 "
                             "fine-tuned with --init-from) and sample from it")
    _add_settings(tr)
    tr.add_argument("--resume", metavar="RUN", help="continue the run in directory RUN")
    tr.add_argument("--coordinator", metavar="HOST:PORT",
                    help="several processes: process 0's address (jax.distributed)")
    tr.add_argument("--num-processes", type=int, metavar="P", help="several processes: how many")
    tr.add_argument("--process-id", type=int, metavar="I", help="several processes: this one's "
                    "number, 0 ... P-1 (0 writes the logs and plots)")
    tr.set_defaults(handler=train)

    sa = commands.add_parser("sample", help="sample text from a trained run")
    sa.add_argument("run", help="the run directory, or a Hugging Face GPT-2 directory")
    sa.add_argument("--prompt", default="\n", help="text to continue (default: a newline)")
    sa.add_argument("--escapes", action="store_true",
                    help=r"read backslash escapes in the prompt: \n, \t, \xHH, \\ (default: off)")
    sa.add_argument("--tokens", type=_count, default=500,
                    help="tokens to sample: characters for a character run, BPE tokens for "
                    "GPT-2 (default: 500)")
    sa.add_argument("--temperature", type=_temperature, default=0.8,
                    help="0 samples greedily (default: 0.8)")
    sa.add_argument("--top-k", type=_top_k, default=40,
                    help="sample among the k likeliest tokens, 0 keeps every one "
                    "(default: 40)")
    sa.add_argument("--seed", type=_seed, default=0, help="random seed of the draw (default: 0)")
    sa.set_defaults(handler=sample)

    xp = commands.add_parser("export", help="write a run in another library's format")
    xp.add_argument("run", help="the run directory")
    xp.add_argument("out", help="the directory to write (new or empty)")
    xp.add_argument("--format", choices=["hf"], required=True,
                    help="hf: a Hugging Face GPT-2 directory (safetensors, config.json, "
                    "tokenizer)")
    xp.set_defaults(handler=export)

    be = commands.add_parser("bench", help="time the training step and the sampling speed")
    _add_settings(be)
    be.add_argument("--json", action="store_true", help="print one JSON object")
    be.add_argument("--bench-steps", type=_count, default=50, help="timed training steps")
    be.set_defaults(handler=bench)

    commands.add_parser("demo", help="a tour of the notation").set_defaults(handler=demo)
    ex = commands.add_parser("explain", help="print the plan of a notation op as Python code")
    ex.add_argument("op", help="an op of levante.ein, e.g. dot")
    ex.add_argument("expression", help='e.g. "b [c1->c2]"')
    ex.add_argument("shapes", nargs="*", type=_shape, help="operand shapes, e.g. 2,3 3,4")
    ex.add_argument("--size", action="append", default=[], help="an axis size, e.g. h=8")
    ex.set_defaults(handler=explain)
    return root


def _user_errors():
    """The exception types that mean "the user can fix this": reported without traceback."""
    from levante.data import DataError
    from levante.ein import NotationError
    from levante.models._generate import SamplingError
    from levante.models.gpt2 import CheckpointError
    from levante.train import TrainError

    return (CheckpointError, DataError, NotationError, SamplingError, TrainError)


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"levante: warning: {message}", file=sys.stderr)


class _Interrupts:
    """While active, SIGINT calls `_handle` instead of raising KeyboardInterrupt: only in
    the main thread and only in place of Python's own handler, so a SIGINT the process
    ignores (`nohup`) or a caller's own handler is left as it is."""

    previous = None

    def __enter__(self):
        if (threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        raise NotImplementedError

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


class _Deferred(_Interrupts):
    """SIGINT noted, not raised, while JAX is imported: an exception raised inside a native
    module's import aborts the whole process ("terminate called ...")."""

    requested = False

    def _handle(self, signum, frame):
        self.requested = True


class _EndOnInterrupt(_Interrupts):
    """Ctrl-C ends the process with status 130 while JAX traces, compiles or runs the
    sampler, as soon as Python runs again (a compiled call under way finishes first).
    Raised as KeyboardInterrupt it could be lost: JAX's tracing calls small
    functions with bare `except:` clauses, which swallow it. A normal exit would tear the
    interpreter down under XLA's running threads (segmentation fault). Sampling writes no
    file, so nothing is lost by ending at once."""

    @staticmethod
    def _handle(signum=None, frame=None):
        sys.stderr.flush()
        os._exit(130)

    def __exit__(self, kind, error, trace):
        super().__exit__(kind, error, trace)
        if kind is KeyboardInterrupt:  # off the main thread, or before the handler was set
            self._handle()


def main(argv=None):
    with _Deferred() as start_up:
        root = parser()  # imports levante.train, and with it JAX
        args, unknown = root.parse_known_args(argv)
    if start_up.requested:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        return 130
    if unknown:  # reported with the sub-command's usage, not the top-level one
        commands = next(a for a in root._actions if isinstance(a, argparse._SubParsersAction))
        commands.choices[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            return args.handler(args)
    except KeyboardInterrupt:
        # the process is ending: more Ctrl-C would only print tracebacks from its shutdown
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        return 130
    except Exception as error:
        if isinstance(error, _user_errors()):
            print(f"levante {args.command}: {error}", file=sys.stderr)
            return EXIT_USAGE
        raise


if __name__ == "__main__":
    sys.exit(main())
