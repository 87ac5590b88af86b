"""fastdl.models.T5: relative-position buckets against a scalar re-implementation of T5's formula
(and transformers' own), KV-cached greedy decoding equal to full recomputation, gradients reaching
the relative position bias through the attention mask, and parity with a random-weight
transformers T5 read by t5_from_pretrained."""
import math

import numpy as np
import pytest

import fastdl
from fastdl.models import T5, T5Config, relative_position_bucket
from helpers import one_thread  # noqa: F401 (a fixture)

pytestmark = pytest.mark.usefixtures("one_thread")


def _bucket_scalar(rp, bidirectional, num_buckets, max_distance):
    """Mesh TensorFlow's _relative_position_bucket, one position at a time."""
    ret, n = 0, -rp  # n = query - key
    if bidirectional:
        num_buckets //= 2
        ret += num_buckets if n < 0 else 0
        n = abs(n)
    else:
        n = max(n, 0)
    max_exact = num_buckets // 2
    if n < max_exact:
        return ret + n
    val = max_exact + int(np.float32(math.log(np.float32(n) / max_exact)
                                     / math.log(max_distance / max_exact)
                                     * (num_buckets - max_exact)))
    return ret + min(val, num_buckets - 1)


@pytest.mark.parametrize("bidirectional", [True, False])
@pytest.mark.parametrize("num_buckets,max_distance", [(32, 128), (8, 20), (13, 50)])
def test_bucketing_matches_t5_formula(bidirectional, num_buckets, max_distance):
    rp = np.arange(-300, 301)
    ours = relative_position_bucket(rp, bidirectional, num_buckets, max_distance)
    ref = [_bucket_scalar(int(r), bidirectional, num_buckets, max_distance) for r in rp]
    np.testing.assert_array_equal(ours, ref)
    assert ours.min() >= 0 and ours.max() < num_buckets
    transformers = pytest.importorskip("transformers.models.t5.modeling_t5")
    torch = pytest.importorskip("torch")
    theirs = transformers.T5Attention._relative_position_bucket(
        torch.tensor(rp), bidirectional, num_buckets, max_distance).numpy()
    np.testing.assert_array_equal(ours, theirs)


def _model(dtype=np.float64, **kw):
    fastdl.manual_seed(0)
    cfg = T5Config(vocab_size=23, d_model=16, d_kv=4, d_ff=24, num_layers=2, num_heads=4,
                   relative_attention_num_buckets=8, relative_attention_max_distance=12,
                   dropout_rate=0.0, **kw)
    return T5(cfg).to(dtype=dtype).eval()


@pytest.mark.parametrize("proj", ["relu", "gated-gelu"])
def test_cached_decoding_equals_full_recompute(proj):
    model = _model(feed_forward_proj=proj, tie_word_embeddings=proj == "relu")
    rng = np.random.default_rng(0)
    src = rng.integers(2, 23, (3, 9))
    mask = np.ones((3, 9), np.int64)
    mask[1, 6:] = 0  # padding in one row
    tgt = rng.integers(2, 23, (3, 14))  # longer than max_distance: the far bucket is used
    with fastdl.no_grad():
        memory = model.encode(src, mask)
        full = model.decode(tgt, memory, mask).numpy()
        caches = model.new_caches()
        parts = [model.decode(tgt[:, :4], memory, mask, caches).numpy()]  # a prefix
        parts += [model.decode(tgt[:, t:t + 1], memory, mask, caches, start=t).numpy()
                  for t in range(4, 14)]
    np.testing.assert_allclose(np.concatenate(parts, 1), full, rtol=1e-10, atol=1e-10)
    cached = model.generate(src, 12, attention_mask=mask, eos_token_id=-1).numpy()
    plain = model.generate(src, 12, attention_mask=mask, eos_token_id=-1,
                           use_cache=False).numpy()
    np.testing.assert_array_equal(cached, plain)
    assert cached.shape == (3, 13) and (cached[:, 0] == 0).all()


def test_padding_does_not_change_the_unpadded_rows():
    model = _model()
    src = np.array([[5, 6, 7, 8, 1]])
    with fastdl.no_grad():
        a = model(src[:, :3], np.array([[0, 9, 4]])).numpy()
        b = model(src, np.array([[0, 9, 4]]), attention_mask=np.array([[1, 1, 1, 0, 0]])).numpy()
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_training_reaches_the_position_bias_and_lowers_the_loss():
    model = _model(np.float32)
    model.train()
    opt = fastdl.optim.AdamW(model.parameters(), lr=1e-2)
    rng = np.random.default_rng(1)
    src = rng.integers(2, 23, (8, 6))
    tgt = np.concatenate([np.zeros((8, 1), np.int64), src[:, ::-1]], 1)  # reverse
    losses = []
    for step in range(25):
        logits = model(src, tgt[:, :-1])
        loss = fastdl.nn.functional.cross_entropy(logits.reshape(-1, 23),
                                                  fastdl.tensor(tgt[:, 1:].reshape(-1)))
        opt.zero_grad()
        loss.backward()
        if step == 0:
            for stack in (model.encoder, model.decoder):
                g = stack.block[0].layer[0].SelfAttention.relative_attention_bias.weight.grad
                assert g is not None and np.abs(g.numpy()).sum() > 0
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0]


def test_bad_config():
    with pytest.raises(ValueError, match="feed_forward_proj"):
        T5Config(feed_forward_proj="swish")


@pytest.mark.parametrize("proj,tied", [("relu", True), ("gated-gelu", False)])
def test_t5_from_pretrained_matches_transformers(tmp_path, proj, tied):
    transformers = pytest.importorskip("transformers")
    torch = pytest.importorskip("torch")
    pytest.importorskip("safetensors")
    from fastdl.models import t5_from_pretrained
    torch.manual_seed(0)
    cfg = transformers.T5Config(vocab_size=41, d_model=24, d_kv=6, d_ff=40, num_layers=2,
                                num_decoder_layers=3, num_heads=4,
                                relative_attention_num_buckets=8,
                                relative_attention_max_distance=10, dropout_rate=0.0,
                                feed_forward_proj=proj, tie_word_embeddings=tied,
                                decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)
    ref = transformers.T5ForConditionalGeneration(cfg).double().eval()
    ref.save_pretrained(tmp_path)
    model = t5_from_pretrained(str(tmp_path))
    rng = np.random.default_rng(0)
    src = rng.integers(2, 41, (2, 13))
    mask = np.ones_like(src)
    mask[0, 10:] = 0
    dec = rng.integers(2, 41, (2, 12))
    with torch.no_grad():
        want = ref(input_ids=torch.tensor(src), attention_mask=torch.tensor(mask),
                   decoder_input_ids=torch.tensor(dec)).logits.numpy()
        hf_tokens = ref.generate(input_ids=torch.tensor(src),
                                 attention_mask=torch.tensor(mask), max_new_tokens=8,
                                 do_sample=False, num_beams=1, use_cache=False).numpy()
    with fastdl.no_grad():
        got = model(src, dec, attention_mask=mask).numpy()
    # transformers computes T5LayerNorm's variance in float32 even in a float64 model
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())
    ours = model.generate(src, 8, attention_mask=mask).numpy()  # stops at eos like HF
    np.testing.assert_array_equal(ours, hf_tokens)
