"""transformers checkpoints beyond the defaults: GPT-2 configs (untied head, n_inner, attention
scaling flags, dropout rates), half-precision and sharded files, padded batched generation and
end-of-sequence, generate's argument checks, and BERT's token-classification head."""
import numpy as np
import pytest

import fastdl
from fastdl.models import bert_from_pretrained, gpt2_from_pretrained

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")
transformers.logging.set_verbosity_error()


def _gpt2(tmp_path, scale=1.0, dtype=torch.float64, **overrides):
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(vocab_size=53, n_positions=32, n_embd=32, n_layer=2, n_head=4,
                                  **overrides)
    ref = transformers.GPT2LMHeadModel(cfg).to(dtype).eval()
    with torch.no_grad():
        for p in ref.parameters():
            p.mul_(scale)  # larger weights: a wrong scaling shows in the logits
    ref.save_pretrained(tmp_path)
    return ref


def _logits(model, ref, ids):
    with torch.no_grad():
        want = ref(torch.tensor(ids)).logits.double().numpy()
    with fastdl.no_grad():
        return model(fastdl.tensor(ids)).numpy(), want


@pytest.mark.parametrize("overrides", [
    {"tie_word_embeddings": False}, {"n_inner": 48}, {"scale_attn_weights": False},
    {"scale_attn_by_inverse_layer_idx": True}])
def test_gpt2_config_variants(tmp_path, overrides):
    ref = _gpt2(tmp_path, scale=4.0, **overrides)
    model = gpt2_from_pretrained(str(tmp_path))
    ids = np.random.default_rng(1).integers(0, 53, (2, 9))
    got, want = _logits(model, ref, ids)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


def test_gpt2_dropout_rates_from_the_config(tmp_path):
    _gpt2(tmp_path, resid_pdrop=0.3, attn_pdrop=0.2, embd_pdrop=0.25)
    model = gpt2_from_pretrained(str(tmp_path))
    assert model.drop.p == 0.25
    assert model.h[0].attn.dropout == 0.2 and model.h[0].dropout.p == 0.3


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_checkpoint_loads_as_float32(tmp_path, dtype):
    ref = _gpt2(tmp_path, dtype=dtype)
    model = gpt2_from_pretrained(str(tmp_path))
    assert model.wte.weight.dtype == fastdl.float32
    ids = np.random.default_rng(2).integers(0, 53, (1, 7))
    with torch.no_grad():
        want = ref.float()(torch.tensor(ids)).logits.numpy()
    with fastdl.no_grad():
        got = model(fastdl.tensor(ids)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_sharded_checkpoint(tmp_path):
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(vocab_size=53, n_positions=32, n_embd=32, n_layer=2, n_head=4)
    ref = transformers.GPT2LMHeadModel(cfg).double().eval()
    ref.save_pretrained(tmp_path, max_shard_size="20KB")
    assert (tmp_path / "model.safetensors.index.json").exists()
    got, want = _logits(gpt2_from_pretrained(str(tmp_path)), ref,
                        np.random.default_rng(3).integers(0, 53, (2, 5)))
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("use_cache", [True, False])
def test_left_padded_batch_generates_as_transformers(tmp_path, use_cache):
    ref = _gpt2(tmp_path, scale=5.0)
    model = gpt2_from_pretrained(str(tmp_path))
    ids = np.array([[0, 0, 5, 6, 7], [1, 2, 3, 4, 5]])
    mask = np.array([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]])
    with torch.no_grad():
        want = ref.generate(torch.tensor(ids), attention_mask=torch.tensor(mask),
                            max_new_tokens=6, do_sample=False, pad_token_id=0).numpy()
    got = model.generate(fastdl.tensor(ids), 6, temperature=0, attention_mask=mask,
                         use_cache=use_cache).numpy()
    np.testing.assert_array_equal(got, want)
    # the padded row continues as its prompt alone does
    alone = model.generate(fastdl.tensor(ids[:1, 2:]), 6, temperature=0).numpy()
    np.testing.assert_array_equal(got[0, 5:], alone[0, 3:])


def test_generation_stops_at_eos_and_pads_finished_rows(tmp_path):
    ref = _gpt2(tmp_path, scale=5.0)
    model = gpt2_from_pretrained(str(tmp_path))
    ids = np.array([[5, 6, 7], [9, 10, 11]])
    free = model.generate(fastdl.tensor(ids), 8, temperature=0).numpy()
    eos = int(free[0, 5])
    with torch.no_grad():
        want = ref.generate(torch.tensor(ids), attention_mask=torch.ones(2, 3, dtype=torch.long),
                            max_new_tokens=8, do_sample=False, pad_token_id=0,
                            eos_token_id=eos).numpy()
    got = model.generate(fastdl.tensor(ids), 8, temperature=0, eos_token_id=eos,
                         pad_token_id=0).numpy()
    np.testing.assert_array_equal(got, want)


def test_generate_checks_its_arguments():
    from fastdl.models import GPT, GPTConfig
    model = GPT(GPTConfig(vocab_size=11, block_size=16, n_layer=1, n_head=2, n_embd=8))
    ids = fastdl.tensor(np.array([[1, 2]]))
    for kwargs, match in (({"temperature": -1.0}, "temperature"), ({"top_k": 0}, "top_k"),
                          ({"top_k": -3}, "top_k"), ({"top_p": 0.0}, "top_p"),
                          ({"top_p": 1.5}, "top_p"), ({"max_new_tokens": -5}, "max_new_tokens")):
        args = {"max_new_tokens": 3, **kwargs}
        with pytest.raises(ValueError, match=match):
            model.generate(ids, **args)
    with pytest.raises(ValueError, match="L >= 1"):
        model.generate(fastdl.tensor(np.zeros((1, 0), np.int64)), 2)
    caches = [fastdl.nn.KVCache() for _ in model.h]
    with fastdl.no_grad():
        model(ids, caches)
        with pytest.raises(ValueError, match="start"):
            model(fastdl.tensor(np.array([[3]])), caches)  # start=2 forgotten


def test_bert_token_classification_head(tmp_path):
    torch.manual_seed(0)
    cfg = transformers.BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=2,
                                  num_attention_heads=4, intermediate_size=48,
                                  max_position_embeddings=16, num_labels=4,
                                  hidden_dropout_prob=0.0)
    ref = transformers.BertForTokenClassification(cfg).double().eval()
    ref.save_pretrained(tmp_path)
    model = bert_from_pretrained(str(tmp_path))
    assert model.dropout.p == 0.0
    ids = np.random.default_rng(4).integers(0, 50, (2, 7))
    mask = np.ones((2, 7), np.int64)
    mask[1, 5:] = 0
    with torch.no_grad():
        want = ref(torch.tensor(ids), attention_mask=torch.tensor(mask)).logits.numpy()
    with fastdl.no_grad():
        got = model.classify(fastdl.tensor(ids), attention_mask=mask).numpy()
    assert got.shape == (2, 7, 4)
    np.testing.assert_allclose(got[mask == 1], want[mask == 1], rtol=1e-9, atol=1e-10)
