"""GPT-2 checkpoints against transformers: logits, gradients, generation, save and load in
both directions, the errors, and the BPE tokenizer against GPT2TokenizerFast.

Every checkpoint is a small random `GPT2LMHeadModel` made here (no network); its weights,
LayerNorms included, are drawn at a scale where the logits spread, so that a wrong layout
or a wrong epsilon shows."""

import functools
import json
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from levante import data
from levante.models import generate, gpt, gpt2

torch = pytest.importorskip("torch", reason="transformers' GPT-2 (the oracle) runs on PyTorch")
transformers = pytest.importorskip("transformers", reason="the oracle is transformers' GPT-2")

VOCAB, BLOCK = 97, 96


def random_gpt2(tie=True, seed=0, **sizes):
    torch.manual_seed(seed)
    config = transformers.GPT2Config(
        vocab_size=VOCAB, n_positions=BLOCK, n_embd=32, n_layer=2, n_head=4, resid_pdrop=0.0,
        embd_pdrop=0.0, attn_pdrop=0.0, tie_word_embeddings=tie, **sizes)
    # no end token: generate() neither stops early nor masks one id while it must go on
    config.bos_token_id = config.eos_token_id = None
    model = transformers.GPT2LMHeadModel(config).eval()
    with torch.no_grad():
        for name, tensor in model.named_parameters():
            if "ln" in name and name.endswith("weight"):
                tensor.copy_(1 + 0.2 * torch.randn_like(tensor))
            else:
                tensor.copy_(0.2 * torch.randn_like(tensor))
    return model


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """(transformers model, its directory, levante's params and config loaded from it)."""
    model = random_gpt2()
    path = tmp_path_factory.mktemp("gpt2")
    model.save_pretrained(path)
    params, config = gpt2.load(path)
    return model, path, params, config


def hf_logits(model, ids):
    with torch.no_grad():
        return model(torch.from_numpy(np.asarray(ids, np.int64))).logits.numpy()


@functools.partial(jax.jit, static_argnums=1)
def forward(params, config, ids):
    """levante's logits, compiled once per shape (eager, each op would compile on its own)."""
    return gpt.forward(params, config, ids)


def ids_of(batch, length, seed=0):
    return np.random.default_rng(seed).integers(0, VOCAB, (batch, length)).astype(np.int32)


def test_config_is_gpt2s(checkpoint):
    _, _, _, config = checkpoint
    assert config == gpt.GPTConfig(vocab=VOCAB, layers=2, heads=4, width=32, block=BLOCK,
                                   activation="gelu_tanh", norm_eps=1e-5, tie=True, bias=True)


@pytest.mark.parametrize("length", [1, 7, 40, BLOCK])
def test_logits_equal_transformers(checkpoint, length):
    model, _, params, config = checkpoint
    ids = ids_of(2, length, seed=length)
    ours = np.asarray(forward(params, config, ids))
    theirs = hf_logits(model, ids)
    assert np.abs(theirs).max() > 1.0  # logits that spread: a wrong layout would show
    assert np.abs(ours - theirs).max() <= 1e-4


def test_gradients_equal_transformers(checkpoint):
    model, _, params, config = checkpoint
    ids = ids_of(2, 33, seed=5)
    ours = jax.jit(jax.grad(gpt.loss), static_argnums=1)(params, config, ids[:, :-1], ids[:, 1:])
    model.zero_grad()
    logits = model(torch.from_numpy(ids[:, :-1].astype(np.int64))).logits
    targets = torch.from_numpy(ids[:, 1:].astype(np.int64)).reshape(-1)
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, VOCAB), targets)
    loss.backward()
    grads = {name: p.grad.numpy() for name, p in model.named_parameters()}
    theirs = gpt2.params_from_hf(grads, config)
    checked = 0
    for a, b in zip(jax.tree_util.tree_leaves(ours), jax.tree_util.tree_leaves(theirs),
                    strict=True):
        a, b = np.asarray(a), np.asarray(b)
        assert np.abs(b).max() > 0
        assert np.abs(a - b).max() <= 1e-4 * np.abs(b).max()
        checked += 1
    assert checked == 4 + 12 * config.layers


def test_greedy_generation_equals_transformers_with_and_without_cache(checkpoint):
    model, _, params, config = checkpoint
    prompt = ids_of(1, 16, seed=7)
    ours = generate(params, config, prompt, 64, jax.random.key(0), temperature=0)
    for use_cache in (True, False):
        with torch.no_grad():
            out = model.generate(torch.from_numpy(prompt.astype(np.int64)), max_new_tokens=64,
                                 attention_mask=torch.ones(prompt.shape, dtype=torch.long),
                                 do_sample=False, use_cache=use_cache, pad_token_id=0)
        assert out[0, 16:].tolist() == ours[0].tolist()
    # and levante without its cache: the whole context through the model for each token
    # (padded to the block, one compiled program: causal, so the padding is never seen)
    context = np.zeros((1, BLOCK), np.int32)
    context[0, :16] = prompt[0]
    for n in range(16, 16 + 64):
        context[0, n] = int(jnp.argmax(forward(params, config, context)[0, n - 1]))
    assert context[0, 16:80].tolist() == ours[0].tolist()
    assert len(set(ours[0].tolist())) > 3  # not one token repeated


class SharedGumbel(transformers.LogitsProcessor):
    """Adds levante's Gumbel draws to transformers' (temperature-scaled, top-k-filtered)
    scores: the argmax is then the same draw from the same distribution on both sides."""

    def __init__(self, noise, prompt_length):
        self.noise, self.prompt_length = noise, prompt_length

    def __call__(self, input_ids, scores):
        return scores + torch.tensor(self.noise[input_ids.shape[1] - self.prompt_length])


def test_top_k_sampling_equals_transformers_with_shared_draws(checkpoint):
    model, _, params, config = checkpoint
    prompt, steps, key, temperature, k = ids_of(1, 10, seed=8), 64, jax.random.key(3), 0.9, 5
    ours = generate(params, config, prompt, steps, key, temperature=temperature, top_k=k)
    # the noise levante draws for its one window (prompt + steps <= block), step by step
    noise = np.asarray(jax.random.gumbel(jax.random.fold_in(key, 0), (steps, 1, VOCAB)))
    processors = transformers.LogitsProcessorList([
        transformers.TemperatureLogitsWarper(temperature), transformers.TopKLogitsWarper(k),
        SharedGumbel(noise, prompt.shape[1])])
    with torch.no_grad():
        out = model.generate(torch.from_numpy(prompt.astype(np.int64)), max_new_tokens=steps,
                             attention_mask=torch.ones(prompt.shape, dtype=torch.long),
                             do_sample=False, logits_processor=processors, pad_token_id=0)
    assert out[0, prompt.shape[1]:].tolist() == ours[0].tolist()
    greedy = generate(params, config, prompt, steps, key, temperature=0)
    assert ours[0].tolist() != greedy[0].tolist()  # the draws did change the tokens


def test_save_then_transformers_loads_the_same_logits(checkpoint, tmp_path):
    _, _, params, config = checkpoint
    # a model levante trained: its own parameters, not the ones it loaded
    params = gpt.init(config, jax.random.key(4))
    gpt2.save(params, config, tmp_path)
    model = transformers.GPT2LMHeadModel.from_pretrained(tmp_path).eval()
    ids = ids_of(2, 50, seed=9)
    ours = np.asarray(forward(params, config, ids))
    assert np.abs(ours - hf_logits(model, ids)).max() <= 1e-4
    again, config_again = gpt2.load(tmp_path)
    assert config_again == config
    for a, b in zip(jax.tree_util.tree_leaves(params), jax.tree_util.tree_leaves(again),
                    strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("layout", ["sharded", "untied", "no-prefix"])
def test_other_layouts_load(tmp_path, layout):
    model = random_gpt2(tie=layout != "untied", seed=1)
    if layout == "sharded":
        model.save_pretrained(tmp_path, max_shard_size="40KB")
        assert len(list(tmp_path.glob("model-*-of-*.safetensors"))) > 1
    elif layout == "no-prefix":  # as OpenAI's files: saved from GPT2Model
        model.transformer.save_pretrained(tmp_path)
        config = json.loads((tmp_path / "config.json").read_text())
        (tmp_path / "config.json").write_text(json.dumps({**config, "architectures": None}))
    else:
        model.save_pretrained(tmp_path)
    params, config = gpt2.load(tmp_path)
    assert config.tie == (layout != "untied")
    ids = ids_of(1, 20, seed=2)
    ours = np.asarray(forward(params, config, ids))
    assert np.abs(ours - hf_logits(model, ids)).max() <= 1e-4
    if layout == "untied":
        out = tmp_path / "out"
        gpt2.save(params, config, out)
        again = transformers.GPT2LMHeadModel.from_pretrained(out).eval()
        assert np.abs(ours - hf_logits(again, ids)).max() <= 1e-4


# --- errors: each names the file and the tensor or field ------------------------------------

def rewrite_weights(path, change):
    from safetensors.numpy import load_file, save_file

    state = load_file(str(path / "model.safetensors"))
    save_file(change(state), str(path / "model.safetensors"), metadata={"format": "pt"})


@pytest.fixture
def copy(checkpoint, tmp_path):
    target = tmp_path / "gpt2"
    shutil.copytree(checkpoint[1], target)
    return target


def test_missing_config(copy):
    (copy / "config.json").unlink()
    with pytest.raises(gpt2.CheckpointError, match=r"config\.json is missing"):
        gpt2.load(copy)


def test_other_architecture(copy):
    config = json.loads((copy / "config.json").read_text())
    (copy / "config.json").write_text(json.dumps({**config, "model_type": "llama"}))
    with pytest.raises(gpt2.CheckpointError, match=r"config\.json: model_type is 'llama'"):
        gpt2.load(copy)


def test_missing_weights(copy):
    (copy / "model.safetensors").unlink()
    with pytest.raises(gpt2.CheckpointError, match=r"model\.safetensors is missing"):
        gpt2.load(copy)


def test_pickled_weights_only_are_refused_with_the_conversion(copy):
    (copy / "model.safetensors").unlink()
    (copy / "pytorch_model.bin").write_bytes(b"not unpickled")
    with pytest.raises(gpt2.CheckpointError, match=r"never unpickles.*save_pretrained\(d, "
                                                   r"safe_serialization=True\)"):
        gpt2.load(copy)


def test_missing_tensor(copy):
    gone = "transformer.h.1.ln_2.bias"
    rewrite_weights(copy, lambda s: {k: v for k, v in s.items() if k != gone})
    with pytest.raises(gpt2.CheckpointError,
                       match=r"model\.safetensors has no tensor transformer\.h\.1\.ln_2\.bias "
                             r"\(levante's blocks/1/norm_feed_forward/bias\)"):
        gpt2.load(copy)


def test_misshapen_tensor(copy):
    def cut(state):
        state["transformer.h.0.mlp.c_fc.weight"] = state["transformer.h.0.mlp.c_fc.weight"][:, :-1]
        return state

    rewrite_weights(copy, cut)
    with pytest.raises(gpt2.CheckpointError, match=r"transformer\.h\.0\.mlp\.c_fc\.weight has "
                                                   r"shape \(32, 127\); .* \(32, 128\)"):
        gpt2.load(copy)


def test_truncated_file(copy):
    file = copy / "model.safetensors"
    file.write_bytes(file.read_bytes()[:-1000])
    with pytest.raises(gpt2.CheckpointError, match=r"model\.safetensors.*truncated"):
        gpt2.load(copy)


def test_vocabulary_that_does_not_match_the_embedding(copy):
    config = json.loads((copy / "config.json").read_text())
    (copy / "config.json").write_text(json.dumps({**config, "vocab_size": VOCAB + 3}))
    with pytest.raises(gpt2.CheckpointError, match=rf"vocab_size {VOCAB + 3} does not match the "
                                                   rf"embedding transformer\.wte\.weight .* "
                                                   rf"{VOCAB} rows"):
        gpt2.load(copy)


def test_tokenizer_larger_than_the_embedding(checkpoint, bpe_files):
    _, _, _, config = checkpoint
    with pytest.raises(gpt2.CheckpointError, match=r"has 300 tokens, but the embedding .* 97 rows"):
        gpt2.load_tokenizer(bpe_files, config)


def test_settings_levante_does_not_compute_are_refused():
    with pytest.raises(gpt2.CheckpointError, match="activation_function 'gelu_fast'"):
        gpt2.config_from_hf({"model_type": "gpt2", "activation_function": "gelu_fast"})
    with pytest.raises(gpt2.CheckpointError, match="scale_attn_by_inverse_layer_idx"):
        gpt2.config_from_hf({"model_type": "gpt2", "scale_attn_by_inverse_layer_idx": True})
    with pytest.raises(gpt2.CheckpointError, match=r"positions='rotary' \(GPT-2: 'learned'\)"):
        gpt2.config_to_hf(gpt.GPTConfig(positions="rotary"))


def test_norm_eps_reaches_every_norm(checkpoint, tmp_path):
    """A config.json epsilon other than GPT-2's is read and computed, not ignored."""
    model = random_gpt2(seed=2, layer_norm_epsilon=0.5)
    model.save_pretrained(tmp_path)
    params, config = gpt2.load(tmp_path)
    assert config.norm_eps == 0.5
    ids = ids_of(1, 12)
    ours = np.asarray(forward(params, config, ids))
    assert np.abs(ours - hf_logits(model, ids)).max() <= 1e-4


# --- the BPE tokenizer ------------------------------------------------------------------------

TEXT = ("First Citizen: Before we proceed any further, hear me speak. Ça va? Très bien, "
        "naïve café — 日本語のテキスト, Ελληνικά, русский текст, emoji 🙂🚀 and tabs\tand  "
        "double  spaces,\n\nnew lines, numbers 1234 56.78, it's, we'll, they're, I'd. ")


@pytest.fixture(scope="module")
def bpe_files(tmp_path_factory):
    """vocab.json + merges.txt of a byte-level BPE trained on a small text."""
    from tokenizers import ByteLevelBPETokenizer

    trainer = ByteLevelBPETokenizer()
    trainer.train_from_iterator([TEXT] * 20, vocab_size=300, min_frequency=1,
                                special_tokens=["<|endoftext|>"])
    path = tmp_path_factory.mktemp("bpe")
    trainer.save_model(str(path))
    return path


def strings(count=300, seed=0):
    """Words, Unicode, punctuation and runs of whitespace, mixed at random."""
    rng = np.random.default_rng(seed)
    pieces = ["hello", "Hello", "world", "citizen", "café", "naïve", "日本", "語", "🙂", "🚀",
              "e\u0301", "Ωμέγα", "текст", "'s", "'ll", "n't", "123", "4.5", ",", ".", "!?",
              "<|endoftext|>", "\u00a0", "\u200b", "ﬁ", "x" * 30]
    spaces = [" ", "  ", "   ", "\t", "\t\t", "\n", "\n\n", " \n ", "\r\n", "", "    \t\n"]
    out = ["", " ", "\n\n\n", "   leading", "trailing   ", TEXT]
    while len(out) < count:
        n = int(rng.integers(1, 12))
        out.append("".join(pieces[rng.integers(len(pieces))] + spaces[rng.integers(len(spaces))]
                           for _ in range(n)))
    return out


def test_bpe_equals_gpt2_tokenizer_fast(bpe_files, tmp_path):
    theirs = transformers.GPT2TokenizerFast.from_pretrained(str(bpe_files))
    ours = data.BPETokenizer.load(bpe_files)
    ours.save(tmp_path)  # and the same tokenizer read back from tokenizer.json
    again = data.BPETokenizer.load(tmp_path / "tokenizer.json")
    assert len(ours) == len(theirs) == len(again) == 300
    for text in strings():
        ids = theirs(text)["input_ids"]
        assert ours.encode(text).tolist() == ids, text
        assert again.encode(text).tolist() == ids, text
        assert ours.decode(ids) == theirs.decode(ids) == text


def test_bpe_interface_is_the_vocabularys(bpe_files):
    tokenizer = data.BPETokenizer.load(bpe_files)
    assert tokenizer.missing("anything at all: ∮ 🙂") == []
    assert tokenizer.encode("hello").dtype == np.int32
    again = data.vocabulary_from_json(json.loads(json.dumps(tokenizer.to_json())))
    assert again == tokenizer and again.encode(TEXT).tolist() == tokenizer.encode(TEXT).tolist()
    with pytest.raises(data.DataError, match=r"ids must lie in \[0, 300\)"):
        tokenizer.decode([300])
    with pytest.raises(data.DataError, match="holds no tokenizer"):
        data.BPETokenizer.load(bpe_files / "nothing")


@pytest.mark.parametrize("rows", [1, 3, 17])
def test_tied_readout_equals_numpy_for_decoding_and_full_passes(rows):
    """A decoding step's few rows take their own product (E times the vectors); both forms
    give x Eᵀ."""
    from levante import nets

    rng = np.random.default_rng(rows)
    table = rng.normal(size=(VOCAB, 32)).astype(np.float32)
    x = rng.normal(size=(rows, 1, 32)).astype(np.float32)
    logits = nets.embedding_readout({"table": jnp.asarray(table)}, jnp.asarray(x), VOCAB)
    np.testing.assert_allclose(logits, x @ table.T, rtol=1e-5, atol=1e-5)
