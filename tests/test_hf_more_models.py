"""Hugging Face checkpoints of more architectures, written by transformers' save_pretrained from
tiny random-weight models and loaded by fastdl: LLaMA / Mistral / Qwen2 causal LMs (logits,
padded batches, greedy generation, KV cache), RoBERTa and DistilBERT encoders (last hidden
states with padding), half-precision and sharded files, and the errors for what is not
supported. float32 throughout, as the checkpoints users have."""
import json

import numpy as np
import pytest

import fastdl
from fastdl.models import (causal_lm_from_pretrained, distilbert_from_pretrained,
                           llama_from_pretrained, roberta_from_pretrained)

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")
transformers.logging.set_verbosity_error()

VOCAB = 97
TINY = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
            initializer_range=0.2)  # larger weights than the default: decisive argmaxes
CAUSAL_LMS = {
    "llama-gqa": ("LlamaConfig", "LlamaForCausalLM", {}),
    "llama-linear-rope-biases-tied-head_dim": (
        "LlamaConfig", "LlamaForCausalLM",
        dict(rope_scaling={"rope_type": "linear", "factor": 2.0}, rope_theta=500.0,
             attention_bias=True, mlp_bias=True, tie_word_embeddings=True, head_dim=24,
             num_key_value_heads=4)),
    "mistral-sliding-window": ("MistralConfig", "MistralForCausalLM", dict(sliding_window=5)),
    "qwen2-window-on-layer-1": ("Qwen2Config", "Qwen2ForCausalLM",
                                dict(use_sliding_window=True, sliding_window=4,
                                     max_window_layers=1)),
}


def _causal_lm(tmp_path, family="llama-gqa", dtype=torch.float32, **save_kwargs):
    config_name, model_name, overrides = CAUSAL_LMS[family]
    torch.manual_seed(0)
    config = getattr(transformers, config_name)(**{**TINY, **overrides})
    ref = getattr(transformers, model_name)(config).to(dtype).eval()
    ref.save_pretrained(tmp_path, **save_kwargs)
    return ref


def _left_padded(batch=2, length=11, pad=3):
    ids = np.random.default_rng(1).integers(0, VOCAB, (batch, length))
    mask = np.ones((batch, length), np.int64)
    mask[0, :pad] = 0
    return ids, mask


def _positions(mask):
    """transformers' positions for a left-padded batch: counted from each row's first token."""
    return np.where(mask == 0, 1, np.cumsum(mask, 1) - 1)


def _logits(model, ids, **kwargs):
    with fastdl.no_grad():
        return model(fastdl.tensor(ids), **kwargs).numpy()


@pytest.mark.parametrize("family", sorted(CAUSAL_LMS))
def test_causal_lm_logits_match_transformers(tmp_path, family):
    ref = _causal_lm(tmp_path, family)
    model = llama_from_pretrained(str(tmp_path))
    ids, mask = _left_padded()
    with torch.no_grad():
        want = ref(torch.tensor(ids)).logits.numpy()
        want_padded = ref(torch.tensor(ids), attention_mask=torch.tensor(mask)).logits.numpy()
    np.testing.assert_allclose(_logits(model, ids), want, atol=1e-4, rtol=1e-4)
    got_padded = _logits(model, ids, attention_mask=mask, position_ids=_positions(mask))
    tokens = mask.astype(bool)  # padding positions' outputs are meaningless in both
    np.testing.assert_allclose(got_padded[tokens], want_padded[tokens], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("family", sorted(CAUSAL_LMS))
@pytest.mark.parametrize("use_cache", [True, False])
def test_greedy_generation_matches_transformers(tmp_path, family, use_cache):
    ref = _causal_lm(tmp_path, family)
    model = llama_from_pretrained(str(tmp_path))
    ids, mask = _left_padded(length=7)
    with torch.no_grad():
        want = ref.generate(torch.tensor(ids), attention_mask=torch.tensor(mask),
                            max_new_tokens=12, do_sample=False, pad_token_id=0,
                            eos_token_id=None).numpy()
    got = model.generate(ids, 12, temperature=0, attention_mask=mask, use_cache=use_cache)
    assert got.shape == (2, 19)
    np.testing.assert_array_equal(got.numpy(), want)


@pytest.mark.parametrize("family", ["llama-gqa", "mistral-sliding-window"])
def test_kv_cache_chunks_match_recomputation(tmp_path, family):
    _causal_lm(tmp_path, family)
    model = llama_from_pretrained(str(tmp_path))
    ids = np.random.default_rng(2).integers(0, VOCAB, (2, 13))
    whole = _logits(model, ids)
    caches = model.new_caches()
    pieces = [_logits(model, ids[:, a:b], caches=caches, start=a)
              for a, b in ((0, 6), (6, 7), (7, 10), (10, 13))]  # prompt, one token, chunks
    assert len(caches[0]) == 13
    np.testing.assert_allclose(np.concatenate(pieces, 1), whole, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="start"):
        model(fastdl.tensor(ids[:, :1]), caches=caches, start=5)


def test_sliding_window_changes_what_a_query_sees(tmp_path):
    _causal_lm(tmp_path, "mistral-sliding-window")
    windowed = llama_from_pretrained(str(tmp_path))
    config = json.loads((tmp_path / "config.json").read_text())
    config["sliding_window"] = None
    (tmp_path / "config.json").write_text(json.dumps(config))
    full = llama_from_pretrained(str(tmp_path))
    ids = np.random.default_rng(3).integers(0, VOCAB, (1, 9))
    a, b = _logits(windowed, ids), _logits(full, ids)
    # the first 5 positions see at most 5 keys either way; later ones lose the oldest keys
    np.testing.assert_allclose(a[:, :5], b[:, :5], atol=1e-5)
    assert np.abs(a[:, 5:] - b[:, 5:]).max() > 1e-3


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_checkpoint_loads_as_float32(tmp_path, dtype):
    _causal_lm(tmp_path, dtype=dtype)
    model = causal_lm_from_pretrained(str(tmp_path))
    assert model.model.embed_tokens.weight.dtype == fastdl.float32
    # the oracle reads the half weights into float32 too (the half model's own rotary buffer
    # was rounded to half precision: not what either loader computes)
    ref = transformers.LlamaForCausalLM.from_pretrained(tmp_path, dtype=torch.float32).eval()
    ids = np.random.default_rng(4).integers(0, VOCAB, (1, 7))
    with torch.no_grad():
        want = ref(torch.tensor(ids)).logits.numpy()
    np.testing.assert_allclose(_logits(model, ids), want, atol=1e-4, rtol=1e-4)


def test_sharded_checkpoint(tmp_path):
    ref = _causal_lm(tmp_path, max_shard_size="30KB")
    assert (tmp_path / "model.safetensors.index.json").exists()
    model = llama_from_pretrained(str(tmp_path))
    ids = np.random.default_rng(5).integers(0, VOCAB, (2, 5))
    with torch.no_grad():
        want = ref(torch.tensor(ids)).logits.numpy()
    np.testing.assert_allclose(_logits(model, ids), want, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("family, old_keys", [
    ("llama-linear-rope-biases-tied-head_dim",
     {"rope_parameters": None, "rope_theta": 500.0,
      "rope_scaling": {"type": "linear", "factor": 2.0}}),
    ("qwen2-window-on-layer-1", {"layer_types": None})])
def test_config_written_by_older_transformers(tmp_path, family, old_keys):
    """rope_theta + rope_scaling instead of rope_parameters; Qwen2's windowed layers from
    use_sliding_window and max_window_layers instead of layer_types."""
    ref = _causal_lm(tmp_path, family)
    config = json.loads((tmp_path / "config.json").read_text())
    config.update(old_keys)
    (tmp_path / "config.json").write_text(json.dumps({k: v for k, v in config.items()
                                                       if v is not None}))
    model = llama_from_pretrained(str(tmp_path))
    ids = np.random.default_rng(8).integers(0, VOCAB, (1, 11))
    with torch.no_grad():
        want = ref(torch.tensor(ids)).logits.numpy()
    np.testing.assert_allclose(_logits(model, ids), want, atol=1e-4, rtol=1e-4)


def test_rotary_embedding_position_ids():
    rotary = fastdl.nn.RotaryEmbedding(8, max_len=16, scaling_factor=2.0)
    x = fastdl.randn(2, 3, 4, 8)
    rows = np.array([[1, 2, 3, 4], [5, 6, 7, 8]])
    got = rotary(x, position_ids=rows).numpy()
    np.testing.assert_allclose(got[1], rotary(x[1:], start=5).numpy()[0], atol=1e-6)
    np.testing.assert_allclose(rotary(x, position_ids=np.arange(4, 8)).numpy(),
                               rotary(x, start=4).numpy(), atol=1e-6)
    # linear scaling: position p rotates as p / 2 does unscaled
    plain = fastdl.nn.RotaryEmbedding(8, max_len=16)
    angle = np.arctan2(rotary.sin.numpy()[6, 0], rotary.cos.numpy()[6, 0])
    assert np.isclose(angle, np.arctan2(plain.sin.numpy()[3, 0], plain.cos.numpy()[3, 0]))
    with pytest.raises(ValueError, match="position_ids"):
        rotary(x, position_ids=np.array([[0, 1, 2]]))
    with pytest.raises(ValueError, match="position_ids"):
        rotary(x, position_ids=np.array([0, 1, 2, 16]))
    with pytest.raises(ValueError, match="scaling_factor"):
        fastdl.nn.RotaryEmbedding(8, scaling_factor=0)


def test_bare_llama_model_with_tied_embeddings_loads(tmp_path):
    torch.manual_seed(0)
    ref = transformers.LlamaModel(transformers.LlamaConfig(**TINY, tie_word_embeddings=True))
    ref.eval().save_pretrained(tmp_path)
    model = llama_from_pretrained(str(tmp_path))
    ids = np.random.default_rng(6).integers(0, VOCAB, (1, 5))
    with torch.no_grad():
        hidden = ref(torch.tensor(ids)).last_hidden_state
        want = (hidden @ ref.embed_tokens.weight.T).numpy()
    np.testing.assert_allclose(_logits(model, ids), want, atol=1e-4, rtol=1e-4)


def _edit_config(tmp_path, **changes):
    config = json.loads((tmp_path / "config.json").read_text())
    config.update(changes)
    (tmp_path / "config.json").write_text(json.dumps(config))


@pytest.mark.parametrize("changes, error, match", [
    ({"rope_parameters": {"rope_type": "yarn", "factor": 4.0, "rope_theta": 1e4}},
     NotImplementedError, "yarn"),
    ({"rope_parameters": None, "rope_scaling": {"type": "dynamic", "factor": 2.0}},
     NotImplementedError, "dynamic"),
    ({"rope_parameters": {"rope_type": "llama3", "factor": 8.0, "rope_theta": 1e4}},
     NotImplementedError, "llama3"),
    ({"partial_rotary_factor": 0.5}, NotImplementedError, "partial_rotary_factor"),
    ({"hidden_act": "gelu"}, NotImplementedError, "hidden_act"),
    ({"layer_types": ["chunked_attention", "full_attention"]}, NotImplementedError,
     "chunked_attention"),
    ({"model_type": "gemma"}, ValueError, "gemma"),
    ({"num_key_value_heads": 3}, ValueError, "multiple"),
])
def test_unsupported_configs_raise_clear_errors(tmp_path, changes, error, match):
    _causal_lm(tmp_path)
    _edit_config(tmp_path, **changes)
    with pytest.raises(error, match=match):
        llama_from_pretrained(str(tmp_path))


def test_checkpoint_without_output_layer_is_refused(tmp_path):
    torch.manual_seed(0)
    transformers.LlamaModel(transformers.LlamaConfig(**TINY)).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="lm_head"):
        llama_from_pretrained(str(tmp_path))


def test_positions_beyond_max_position_embeddings_are_refused(tmp_path):
    _causal_lm(tmp_path)
    model = llama_from_pretrained(str(tmp_path))
    with pytest.raises(ValueError, match="max_position_embeddings"):
        model(fastdl.tensor(np.zeros((1, 65), np.int64)))


@pytest.mark.parametrize("module", ["fastdl.models.llama", "fastdl.models.roberta"])
def test_docstring_examples(module):
    import doctest
    import importlib
    result = doctest.testmod(importlib.import_module(module), extraglobs={"fastdl": fastdl},
                             optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


ENCODER = dict(vocab_size=VOCAB, max_position_embeddings=40, initializer_range=0.2)


def _roberta(tmp_path, **overrides):
    torch.manual_seed(0)
    config = transformers.RobertaConfig(**ENCODER, hidden_size=64, num_hidden_layers=2,
                                        num_attention_heads=4, intermediate_size=96,
                                        **overrides)
    ref = transformers.RobertaModel(config).eval()
    ref.save_pretrained(tmp_path)
    return ref


def _distilbert(tmp_path, **overrides):
    torch.manual_seed(0)
    config = transformers.DistilBertConfig(**ENCODER, dim=64, n_layers=2, n_heads=4,
                                           hidden_dim=96, **overrides)
    ref = transformers.DistilBertModel(config).eval()
    ref.save_pretrained(tmp_path)
    return ref


def _right_padded(pad_id, length=9):
    """Two rows, the first with 4 trailing padding tokens (as tokenizers pad for encoders)."""
    ids = np.random.default_rng(7).integers(3, VOCAB, (2, length))
    mask = np.ones((2, length), np.int64)
    mask[0, -4:] = 0
    ids[mask == 0] = pad_id
    return ids, mask


def _hidden_states(model, ref, ids, mask):
    with torch.no_grad():
        want = ref(torch.tensor(ids), attention_mask=None if mask is None
                   else torch.tensor(mask)).last_hidden_state.numpy()
    with fastdl.no_grad():
        got = model(fastdl.tensor(ids), attention_mask=mask).numpy()
    keep = np.ones(ids.shape, bool) if mask is None else mask.astype(bool)
    return got[keep], want[keep]


@pytest.mark.parametrize("padded", [False, True])
@pytest.mark.parametrize("overrides", [{}, {"pad_token_id": 0, "type_vocab_size": 2}])
def test_roberta_hidden_states_match_transformers(tmp_path, padded, overrides):
    ref = _roberta(tmp_path, **overrides)
    model = roberta_from_pretrained(str(tmp_path))
    ids, mask = _right_padded(ref.config.pad_token_id)
    got, want = _hidden_states(model, ref, ids, mask if padded else None)
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)


def test_roberta_positions_start_after_padding_idx(tmp_path):
    _roberta(tmp_path)
    model = roberta_from_pretrained(str(tmp_path))
    ids, mask = _right_padded(1)
    # with BERT's positions 0 .. L - 1 the outputs differ: the offset matters
    with fastdl.no_grad():
        own = model(fastdl.tensor(ids), attention_mask=mask).numpy()
        plain = model(fastdl.tensor(ids), attention_mask=mask,
                      position_ids=np.arange(ids.shape[1])).numpy()
    assert np.abs(own - plain).max() > 1e-2
    assert model.positions(ids)[0].tolist() == [2, 3, 4, 5, 6, 1, 1, 1, 1]


@pytest.mark.parametrize("padded", [False, True])
@pytest.mark.parametrize("overrides", [{}, {"activation": "relu"}, {"sinusoidal_pos_embds": True}])
def test_distilbert_hidden_states_match_transformers(tmp_path, padded, overrides):
    ref = _distilbert(tmp_path, **overrides)
    model = distilbert_from_pretrained(str(tmp_path))
    assert model.token_type_embeddings is None
    ids, mask = _right_padded(0)
    got, want = _hidden_states(model, ref, ids, mask if padded else None)
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)


def test_distilbert_sinusoidal_table_is_computed_when_not_saved(tmp_path):
    from safetensors.torch import load_file, save_file
    ref = _distilbert(tmp_path, sinusoidal_pos_embds=True)
    path = str(tmp_path / "model.safetensors")
    tensors = load_file(path)
    del tensors["embeddings.position_embeddings.weight"]
    save_file(tensors, path, metadata={"format": "pt"})
    model = distilbert_from_pretrained(str(tmp_path))
    ids, mask = _right_padded(0)
    got, want = _hidden_states(model, ref, ids, mask)
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)


def test_encoder_checkpoints_half_precision_and_sharded(tmp_path):
    ref = _roberta(tmp_path / "half")
    ref.to(torch.bfloat16).save_pretrained(tmp_path / "half")
    half = roberta_from_pretrained(str(tmp_path / "half"))
    assert half.word_embeddings.weight.dtype == fastdl.float32
    ref = transformers.RobertaModel.from_pretrained(tmp_path / "half", dtype=torch.float32)
    ids, mask = _right_padded(1)
    np.testing.assert_allclose(*_hidden_states(half, ref.eval(), ids, mask), atol=1e-4, rtol=1e-4)
    ref = _distilbert(tmp_path / "sharded")
    ref.save_pretrained(tmp_path / "sharded", max_shard_size="30KB")
    assert (tmp_path / "sharded" / "model.safetensors.index.json").exists()
    sharded = distilbert_from_pretrained(str(tmp_path / "sharded"))
    np.testing.assert_allclose(*_hidden_states(sharded, ref, ids, mask), atol=1e-4, rtol=1e-4)


def test_encoder_loaders_refuse_other_checkpoints(tmp_path):
    _distilbert(tmp_path / "distil", activation="gelu_new")
    with pytest.raises(ValueError, match="activation"):
        distilbert_from_pretrained(str(tmp_path / "distil"))
    _roberta(tmp_path / "roberta")
    with pytest.raises(ValueError, match="model_type"):
        distilbert_from_pretrained(str(tmp_path / "roberta"))
    _edit_config(tmp_path / "roberta", hidden_act="relu")
    with pytest.raises(ValueError, match="hidden_act"):
        roberta_from_pretrained(str(tmp_path / "roberta"))
