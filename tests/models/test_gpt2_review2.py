"""config.json fields of the wrong kind, and a levante run given where a Hugging Face
directory is expected: each is one CheckpointError naming the file and the field, never a
TypeError from deep inside nor a model that loads with a meaningless setting."""

import json

import pytest

from levante.models import gpt2


def gpt2_config(**fields):
    return {"model_type": "gpt2", "n_layer": 2, "n_head": 2, "n_embd": 8, **fields}


@pytest.mark.parametrize("eps", [float("inf"), float("nan"), True, "x", 0, -1e-5])
def test_layer_norm_epsilon_that_is_no_positive_finite_number_is_refused(eps):
    # inf loaded and zeroed every normalized value; true loaded as 1.0; 'x' was Python's
    # float() message without the field's name
    with pytest.raises(gpt2.CheckpointError, match=r"config\.json: layer_norm_epsilon is .*"
                                                   r"finite number > 0"):
        gpt2.config_from_hf(gpt2_config(layer_norm_epsilon=eps))


def test_layer_norm_epsilon_other_than_gpt2s_loads():
    assert gpt2.config_from_hf(gpt2_config(layer_norm_epsilon=1e-3)).norm_eps == 1e-3
    assert gpt2.config_from_hf(gpt2_config(layer_norm_epsilon=1)).norm_eps == 1.0


@pytest.mark.parametrize("activation", [["gelu"], {"name": "gelu"}, 3])
def test_activation_that_is_no_name_is_one_checkpoint_error(activation):
    # a list was `unhashable type: 'list'` from the lookup
    with pytest.raises(gpt2.CheckpointError, match=r"activation_function .* has no identical"):
        gpt2.config_from_hf(gpt2_config(activation_function=activation))


@pytest.mark.parametrize("field, value", [("n_inner", "32"), ("n_inner", 32.0),
                                          ("n_embd", "8")])
def test_sizes_are_checked_as_integers_before_they_are_compared(field, value):
    # n_inner "32" against 4 x 8 read "n_inner 32 is not 4 × n_embd (32)"
    with pytest.raises(gpt2.CheckpointError, match=f"{field} is {value!r}; it must be an "
                                                   "integer"):
        gpt2.config_from_hf(gpt2_config(**{field: value}))


def test_n_inner_of_four_widths_loads():
    assert gpt2.config_from_hf(gpt2_config(n_inner=32)).width == 8


def test_a_levante_run_says_how_to_continue_or_export_it(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"format": "levante.run/1"}))
    with pytest.raises(gpt2.CheckpointError) as error:
        gpt2.load(run)
    message = str(error.value)
    assert "config.json is missing" in message
    assert "is a levante run" in message and "--resume" in message
    assert f"levante export {run} --format hf" in message


def test_a_directory_without_a_run_gets_no_run_advice(tmp_path):
    with pytest.raises(gpt2.CheckpointError) as error:
        gpt2.load(tmp_path)
    assert "config.json is missing" in str(error.value)
    assert "levante run" not in str(error.value)


@pytest.mark.parametrize("name, flag", [("tf_model.h5", "from_tf"),
                                        ("flax_model.msgpack", "from_flax")])
def test_tensorflow_or_flax_weights_only_say_how_to_convert_them(tmp_path, name, flag):
    (tmp_path / "config.json").write_text(json.dumps(gpt2_config()))
    (tmp_path / name).write_bytes(b"not read")
    with pytest.raises(gpt2.CheckpointError) as error:
        gpt2.load(tmp_path)
    message = str(error.value)
    assert "model.safetensors is missing" in message and name in message
    assert f"from_pretrained(d, {flag}=True).save_pretrained(d)" in message
