"""GPT-2 directories that are subtly wrong, and the command line around them: each fault is
one clear error (exit status 2 on the command line), never a silently different model or
text, never a file written over."""

import json

import numpy as np
import pytest

from levante import cli
from levante.data import BPETokenizer, DataError
from levante.models import gpt, gpt2

torch = pytest.importorskip("torch", reason="the checkpoints are transformers' own")
transformers = pytest.importorskip("transformers", reason="the checkpoints are transformers' own")
tokenizers = pytest.importorskip("tokenizers", reason="the BPE is trained with tokenizers")

TEXT = "The quick brown fox jumps over the lazy dog. héllo wörld 12345\n" * 20


@pytest.fixture(scope="module")
def directory(tmp_path_factory):
    """A random 2-layer GPT-2 with a byte-level BPE trained on TEXT, as transformers saves it."""
    path = tmp_path_factory.mktemp("gpt2")
    bpe = tokenizers.ByteLevelBPETokenizer()
    bpe.train_from_iterator([TEXT], vocab_size=300, min_frequency=1,
                            special_tokens=["<|endoftext|>"], show_progress=False)
    bpe.save_model(str(path))
    torch.manual_seed(0)
    config = transformers.GPT2Config(n_layer=2, n_head=2, n_embd=32, n_positions=64,
                                     vocab_size=bpe.get_vocab_size())
    transformers.GPT2LMHeadModel(config).save_pretrained(path)
    return path


def copy_of(directory, tmp_path, drop=()):
    out = tmp_path / "copy"
    out.mkdir()
    for file in directory.iterdir():
        if file.name not in drop:
            (out / file.name).write_bytes(file.read_bytes())
    return out


def edit_json(file, **changes):
    data = json.loads(file.read_text())
    data.update(changes)
    file.write_text(json.dumps(data))


def test_vocab_numbered_past_the_embedding_is_refused(directory, tmp_path):
    # as many tokens as embedding rows, but numbered from 1000: every id would be out of range
    path = copy_of(directory, tmp_path, drop=("tokenizer.json",))
    vocab = json.loads((path / "vocab.json").read_text())
    (path / "vocab.json").write_text(json.dumps({t: i + 1000 for t, i in vocab.items()}))
    _, config = gpt2.load(path)
    assert len(BPETokenizer.load(path)) == config.vocab
    with pytest.raises(gpt2.CheckpointError, match=r"ids run up to 1\d{3}.* past the \d+ rows"):
        gpt2.load_tokenizer(path, config)


def test_config_with_fewer_layers_than_the_file_is_refused(directory, tmp_path):
    # n_layer 1 on a 2-block file would load the first block only, a different model
    path = copy_of(directory, tmp_path)
    edit_json(path / "config.json", n_layer=1)
    with pytest.raises(gpt2.CheckpointError, match=r"n_layer is 1.*h\.1\."):
        gpt2.load(path)


@pytest.mark.parametrize("field, value", [("n_layer", 2.5), ("n_embd", "32"),
                                          ("n_head", True), ("tie_word_embeddings", "false")])
def test_config_fields_of_the_wrong_type_are_refused(field, value):
    hf = {"model_type": "gpt2", "n_layer": 2, "n_head": 2, "n_embd": 32, field: value}
    with pytest.raises(gpt2.CheckpointError, match=field):
        gpt2.config_from_hf(hf)


def test_bpe_lacking_bytes_refuses_the_text_it_would_drop(directory, tmp_path):
    # a byte-level vocabulary without the byte 0xC3 (é's first byte) drops it silently
    vocab = json.loads((directory / "vocab.json").read_text())
    merges = (directory / "merges.txt").read_text().splitlines()
    kept = [t for t in sorted(vocab, key=vocab.get) if "Ã" not in t]
    (tmp_path / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(kept)}))
    (tmp_path / "merges.txt").write_text("\n".join(m for m in merges if "Ã" not in m) + "\n")
    tokenizer = BPETokenizer.load(tmp_path)
    assert tokenizer.missing("héllo wörld") == ["é", "ö"]
    assert tokenizer.decode(tokenizer.encode("hello")) == "hello"
    with pytest.raises(DataError, match=r"not in the BPE vocabulary.*é"):
        tokenizer.encode("héllo")
    assert BPETokenizer.load(directory).missing("héllo wörld") == []


def test_bpe_text_with_undecodable_bytes_is_a_data_error(directory):
    # what Python makes of a command-line argument that is not UTF-8
    with pytest.raises(DataError, match="not valid Unicode"):
        BPETokenizer.load(directory).encode("a\udcffb")


def test_export_never_writes_into_a_directory_that_holds_files(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "model.safetensors").write_bytes(b"another model")
    code = cli.main(["export", str(tmp_path / "run"), "--format", "hf", str(out)])
    assert code == 2
    assert "already exists" in capsys.readouterr().err
    assert (out / "model.safetensors").read_bytes() == b"another model"
    assert cli.main(["export", str(tmp_path / "run"), "--format", "hf",
                     str(out / "model.safetensors")]) == 2


def test_sample_names_a_missing_config_of_a_hugging_face_directory(directory, tmp_path, capsys):
    path = copy_of(directory, tmp_path, drop=("config.json",))
    assert cli.main(["sample", str(path), "--prompt", "x", "--tokens", "1"]) == 2
    assert "config.json is missing" in capsys.readouterr().err


def test_sample_counts_tokens_of_a_bpe_model(directory, capsys):
    assert cli.main(["sample", str(directory), "--prompt", "The", "--tokens", "2",
                     "--temperature", "0"]) == 0
    captured = capsys.readouterr()
    assert "drawing 2 tokens" in captured.err
    params, config = gpt2.load(directory)
    tokenizer = gpt2.load_tokenizer(directory, config)
    prompt = tokenizer.encode("The")
    # the greedy tokens, from the logits themselves
    ids = list(prompt)
    for _ in range(2):
        logits = np.asarray(gpt.forward(params, config, np.asarray([ids], np.int32)))
        ids.append(int(logits[0, -1].argmax()))
    assert captured.out == "The" + tokenizer.decode(ids[len(prompt):]) + "\n"


@pytest.fixture(scope="module")
def sharded(tmp_path_factory, directory):
    """The same model in shards, with its model.safetensors.index.json."""
    path = tmp_path_factory.mktemp("sharded")
    transformers.GPT2LMHeadModel.from_pretrained(directory).save_pretrained(
        path, max_shard_size="20KB")
    assert len(list(path.glob("model-*.safetensors"))) > 2
    return path


def swap_first_and_last(weight_map):
    first, last = sorted(weight_map)[0], sorted(weight_map)[-1]
    if weight_map[first] == weight_map[last]:
        pytest.fail("the two tensors share a shard: swapping them tests nothing")
    return {**weight_map, first: weight_map[last], last: weight_map[first]}


@pytest.mark.parametrize("damage, message", [
    (lambda m: list(m), "weight_map is not an object"),
    (lambda m: {**m, next(iter(m)): 5}, "not the name of a shard file"),
    (lambda m: {**m, "extra": "../outside.safetensors"}, "not the name of a shard file"),
    (swap_first_and_last, "which does not hold it"),
    (lambda m: {}, r"model\.safetensors\.index\.json has no tensor"),
])
def test_damaged_shard_index_is_one_checkpoint_error(sharded, tmp_path, damage, message):
    path = copy_of(sharded, tmp_path)
    index = path / "model.safetensors.index.json"
    data = json.loads(index.read_text())
    data["weight_map"] = damage(data["weight_map"])
    index.write_text(json.dumps(data))
    with pytest.raises(gpt2.CheckpointError, match=message):
        gpt2.load(path)


def test_shards_load_the_same_model(directory, sharded):
    import jax

    whole, config = gpt2.load(directory)
    shards, again = gpt2.load(sharded)
    assert again == config
    assert all(np.array_equal(a, b) for a, b in zip(jax.tree_util.tree_leaves(whole),
                                                    jax.tree_util.tree_leaves(shards)))


def test_integer_weights_are_refused(directory, tmp_path):
    from safetensors.numpy import load_file, save_file

    path = copy_of(directory, tmp_path)
    state = load_file(path / "model.safetensors")
    state["transformer.h.1.mlp.c_fc.weight"] = np.ones((32, 128), np.int64)
    save_file(state, path / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(gpt2.CheckpointError, match=r"h\.1\.mlp\.c_fc\.weight holds int64"):
        gpt2.load(path)


def test_half_precision_checkpoints_load_as_float32(directory, tmp_path):
    model = transformers.GPT2LMHeadModel.from_pretrained(directory)
    whole, _ = gpt2.load(directory)
    for dtype in (torch.float16, torch.bfloat16):
        path = tmp_path / str(dtype)
        model.to(dtype).save_pretrained(path)
        params, _ = gpt2.load(path)
        table = np.asarray(params["embed"]["table"])
        assert table.dtype == np.float32
        expected = model.transformer.wte.weight.detach().float().numpy()
        np.testing.assert_array_equal(table, expected)
        assert np.abs(table - np.asarray(whole["embed"]["table"])).max() > 0  # rounded


def test_bpe_vocabulary_with_two_tokens_of_one_id_is_refused(directory, tmp_path):
    # '%' and '&' both 5: "%&" would encode to [5, 5] and decode to "%%"
    vocab = json.loads((directory / "vocab.json").read_text())
    token = {i: t for t, i in vocab.items()}
    (tmp_path / "vocab.json").write_text(json.dumps({**vocab, token[6]: 5}))
    (tmp_path / "merges.txt").write_text((directory / "merges.txt").read_text())
    with pytest.raises(DataError, match=r"two tokens one id: .* both 5"):
        BPETokenizer.load(tmp_path)


def test_fine_tuning_refuses_architecture_from_a_config_file(directory, tmp_path):
    # the command line refuses --layers next to --init-from; a config file (or the API)
    # setting layers was overridden by the checkpoint without a word
    from levante.train import TrainConfig, TrainError
    from levante.train._run import finetune_settings

    with pytest.raises(TrainError, match=r"layers=6 \(the checkpoint's: 2\)"):
        finetune_settings(TrainConfig(init_from=str(directory), layers=6, block=16))
    settings, _ = finetune_settings(TrainConfig(init_from=str(directory), layers=2, block=16))
    assert (settings.layers, settings.width, settings.heads) == (2, 32, 2)
    config = tmp_path / "settings.toml"
    config.write_text(f'init_from = "{directory}"\nheads = 4\n')
    assert cli.main(["train", "--config", str(config), "--data", str(config),
                     "--out", str(tmp_path / "run")]) == 2
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("change, message", [
    ({"width": 32}, r"out/b has shape \(16,\); the config gives \(32,\)"),
    ({"layers": 1}, r"hold blocks/1/.*layers=1"),
    ({"layers": 3}, r"have no blocks/2/"),
    ({"tie": False}, r"have no head/w"),
    ({"block": 16}, r"positions has shape \(32, 16\)"),
])
def test_save_refuses_parameters_that_contradict_the_config(tmp_path, change, message):
    import dataclasses

    import jax

    config = gpt.GPTConfig(vocab=50, layers=2, heads=2, width=16, block=32,
                           activation="gelu_tanh")
    params = gpt.init(config, jax.random.key(0))
    with pytest.raises(gpt2.CheckpointError, match=message):
        gpt2.save(params, dataclasses.replace(config, **change), tmp_path)
    assert list(tmp_path.iterdir()) == []  # nothing written under a config.json that lies


def test_save_where_a_file_or_directory_is_in_the_way(tmp_path):
    import jax

    config = gpt.GPTConfig(vocab=50, layers=1, heads=2, width=16, block=8,
                           activation="gelu_tanh")
    params = gpt.init(config, jax.random.key(0))
    (tmp_path / "file").write_text("x")
    with pytest.raises(gpt2.CheckpointError, match="cannot make the directory"):
        gpt2.save(params, config, tmp_path / "file")
    (tmp_path / "out" / "config.json").mkdir(parents=True)
    with pytest.raises(gpt2.CheckpointError, match=r"cannot write .*config\.json"):
        gpt2.save(params, config, tmp_path / "out")
    assert not list((tmp_path / "out").glob("*.tmp"))
