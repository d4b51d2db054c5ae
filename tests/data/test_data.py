"""levante.data: vocabularies, codecs, corpora and batches."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from levante import data
from levante.data import DataError, Vocabulary


@given(st.text(min_size=1, max_size=200))
def test_vocabulary_round_trip(text):
    vocab = Vocabulary.from_text(text)
    assert vocab.decode(vocab.encode(text)) == text
    assert list(vocab.symbols) == sorted(set(text))


def test_vocabulary_tables_agree():
    vocab = Vocabulary.from_text("to be or not to be")
    assert all(vocab.itos[vocab.stoi[c]] == c for c in vocab.symbols)


def test_unknown_characters_are_an_error_naming_them():
    vocab = Vocabulary.from_text("abc")
    with pytest.raises(DataError, match="'xz'"):
        vocab.encode("axbz")


def test_declared_unknown_symbol_stands_for_missing_characters():
    vocab = Vocabulary.from_text("abc", unknown="\ufffd")
    ids = vocab.encode("axb")
    assert ids.min() >= 0
    assert vocab.decode(ids) == "a\ufffdb"


def test_decode_rejects_out_of_range_ids():
    vocab = Vocabulary.from_text("ab")
    with pytest.raises(DataError):
        vocab.decode([0, 2])
    with pytest.raises(DataError):
        vocab.decode([-1])


def test_vocabulary_json_round_trip(tmp_path):
    vocab = Vocabulary.from_text("héllo wörld", unknown="?")
    vocab.save(tmp_path / "vocab.json")
    assert Vocabulary.load(tmp_path / "vocab.json") == vocab


def test_loading_something_else_is_a_data_error(tmp_path):
    (tmp_path / "x.json").write_text('{"a": 1}')
    with pytest.raises(DataError, match="not a levante vocabulary"):
        Vocabulary.load(tmp_path / "x.json")
    (tmp_path / "y.json").write_text("{not json")
    with pytest.raises(DataError):
        Vocabulary.load(tmp_path / "y.json")


@given(st.text(max_size=100))
def test_byte_codecs_match_python(text):
    assert bytes(data.encode_utf8(text)) == text.encode("utf-8")
    assert data.decode_utf8(data.encode_utf8(text)) == text
    utf32 = data.encode_utf32(text)
    assert len(utf32) == 4 * len(text)
    assert data.decode_utf32(utf32) == text


def test_utf32_needs_whole_characters():
    with pytest.raises(DataError):
        data.decode_utf32([0, 0, 97])


def test_bundled_corpus_is_shakespeare():
    text = data.load_text()
    assert 1_000_000 < len(text) < 1_300_000
    assert "ROMEO" in text and "CORIOLANUS" in text
    assert "gutenberg" not in text.lower()


def test_text_file_and_directory(tmp_path):
    (tmp_path / "b.txt").write_text("second", encoding="utf-8")
    (tmp_path / "a.txt").write_text("first", encoding="utf-8")
    assert data.load_text(tmp_path / "a.txt") == "first"
    assert data.load_text(tmp_path) == "first\n\nsecond"


def test_a_byte_order_mark_is_not_part_of_the_text(tmp_path):
    # Windows editors start UTF-8 files with U+FEFF: it became a symbol of the vocabulary
    (tmp_path / "a.txt").write_bytes(b"\xef\xbb\xbffirst")
    (tmp_path / "b.txt").write_bytes(b"\xef\xbb\xbfsecond \xef\xbb\xbf")
    assert data.load_text(tmp_path / "a.txt") == "first"
    assert data.load_text(tmp_path) == "first\n\nsecond \ufeff"  # only a leading one goes


def test_a_device_is_not_read():
    # /dev/zero never ends: it was read until the memory ran out
    with pytest.raises(DataError, match="is a device or socket, not a text file"):
        data.load_text("/dev/zero")


@pytest.mark.parametrize("setup, message", [
    (lambda p: p / "missing.txt", "no such file"),
    (lambda p: (p / "e.txt").write_text("  \n") and p / "e.txt", "empty"),
    (lambda p: (p / "l.txt").write_bytes(b"\xff\xfe\x00") and p / "l.txt", "not UTF-8"),
    (lambda p: (p / "d").mkdir() or p / "d", "no .txt files"),
])
def test_bad_corpora(tmp_path, setup, message):
    with pytest.raises(DataError, match=message):
        data.load_text(setup(tmp_path))


def test_batches_are_windows_shifted_by_one():
    ids = np.arange(1000)
    x, y = data.get_batch(ids, block=16, batch=4, seed=1, step=3)
    assert x.shape == y.shape == (4, 16)
    np.testing.assert_array_equal(y, x + 1)  # consecutive ids: the target is the next token


def test_batches_depend_only_on_seed_and_step():
    ids = np.arange(1000)
    a = data.get_batch(ids, 8, 4, seed=0, step=5)[0]
    b = data.get_batch(ids, 8, 4, seed=0, step=5)[0]
    c = data.get_batch(ids, 8, 4, seed=0, step=6)[0]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_corpus_shorter_than_a_block():
    with pytest.raises(DataError, match="block"):
        data.get_batch(np.arange(5), block=8, batch=1, seed=0, step=0)


def test_split():
    train, val = data.split(np.arange(100), 0.1)
    assert len(train) == 90 and len(val) == 10 and val[0] == 90
    with pytest.raises(DataError):
        data.split(np.arange(10), 1.5)
