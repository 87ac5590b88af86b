"""fastdl.models.GPT: KV-cached generation gives the same tokens as full recomputation, logits
of a cached continuation equal the uncached ones, sampling options, and a training step."""
import numpy as np
import pytest

import fastdl
from fastdl.models import GPT, GPTConfig
from fastdl.nn import KVCache


def _model(dtype=np.float64):
    fastdl.manual_seed(0)
    cfg = GPTConfig(vocab_size=37, block_size=40, n_layer=2, n_head=4, n_embd=32)
    model = GPT(cfg).to(dtype=dtype)
    model.eval()
    return model


def test_cached_logits_equal_full_recompute():
    model = _model()
    idx = np.random.default_rng(0).integers(0, 37, (2, 11))
    with fastdl.no_grad():
        full = model(fastdl.tensor(idx)).numpy()
        caches = [KVCache() for _ in model.h]
        parts = [model(fastdl.tensor(idx[:, :5]), caches).numpy(),  # prefill
                 model(fastdl.tensor(idx[:, 5:8]), caches, start=5).numpy()]  # a chunk
        parts += [model(fastdl.tensor(idx[:, t:t + 1]), caches, start=t).numpy()
                  for t in range(8, 11)]  # one token at a time
    np.testing.assert_allclose(np.concatenate(parts, axis=1), full, rtol=1e-10, atol=1e-10)


def test_forward_without_gradients_equals_the_graph_forward():
    """Without gradients GPT's attention takes q, k, v from one product (viewed three ways);
    with them, from three row blocks of the weight: the logits must agree, and the graph
    forward must reach every c_attn parameter."""
    model = _model()
    idx = fastdl.tensor(np.random.default_rng(1).integers(0, 37, (2, 9)))
    with fastdl.no_grad():
        fast = model(idx).numpy()
    graph = model(idx)
    np.testing.assert_allclose(graph.detach().numpy(), fast, rtol=1e-12, atol=1e-12)
    graph.sum().backward()
    for block in model.h:
        assert block.attn.c_attn.weight.grad is not None
        assert block.attn.c_attn.bias.grad is not None


def test_greedy_generation_with_cache_gives_the_same_tokens():
    model = _model()
    prompt = np.random.default_rng(1).integers(0, 37, (2, 6))
    cached = model.generate(fastdl.tensor(prompt), 20, temperature=0).numpy()
    full = model.generate(fastdl.tensor(prompt), 20, temperature=0, use_cache=False).numpy()
    np.testing.assert_array_equal(cached, full)
    assert cached.shape == (2, 26) and np.array_equal(cached[:, :6], prompt)


def test_sampling_top_k_top_p():
    model = _model(np.float32)
    prompt = fastdl.tensor(np.zeros((3, 2), np.int64))
    a = model.generate(prompt, 8, temperature=0.8, top_k=5, rng=np.random.default_rng(2))
    b = model.generate(prompt, 8, temperature=0.8, top_k=5, rng=np.random.default_rng(2))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    c = model.generate(prompt, 8, temperature=1.0, top_p=0.5, rng=np.random.default_rng(3))
    assert c.shape == (3, 10) and c.numpy().max() < 37
    # top_k=1 is greedy
    g = model.generate(prompt, 6, temperature=0).numpy()
    k1 = model.generate(prompt, 6, temperature=1.0, top_k=1, rng=np.random.default_rng(4))
    np.testing.assert_array_equal(k1.numpy(), g)


def test_training_step_lowers_the_loss():
    model = _model(np.float32)
    model.train()
    opt = fastdl.optim.Adam(model.parameters(), lr=1e-2)
    idx = np.random.default_rng(5).integers(0, 37, (4, 16))
    x, y = fastdl.tensor(idx[:, :-1]), fastdl.tensor(idx[:, 1:])
    losses = []
    for _ in range(5):
        logits = model(x)
        loss = fastdl.nn.functional.cross_entropy(logits.reshape(-1, 37), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach().numpy()))
    assert losses[-1] < losses[0]
    with pytest.raises(ValueError, match="block_size"):
        model(fastdl.tensor(np.zeros((1, 41), np.int64)))


def test_gpt2_from_pretrained_matches_transformers(tmp_path):
    transformers = pytest.importorskip("transformers")
    torch = pytest.importorskip("torch")
    from fastdl.models import gpt2_from_pretrained
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(vocab_size=61, n_positions=48, n_embd=32, n_layer=2, n_head=4)
    ref = transformers.GPT2LMHeadModel(cfg).double().eval()
    ref.save_pretrained(tmp_path)
    model = gpt2_from_pretrained(str(tmp_path))
    ids = np.random.default_rng(6).integers(0, 61, (2, 13))
    with torch.no_grad():
        ref_logits = ref(torch.tensor(ids)).logits.numpy()
    with fastdl.no_grad():
        logits = model(fastdl.tensor(ids)).numpy()
    np.testing.assert_allclose(logits, ref_logits, rtol=1e-9, atol=1e-10)
    prompt = ids[:, :5]
    with torch.no_grad():
        ref_tokens = ref.generate(torch.tensor(prompt), max_new_tokens=12, do_sample=False,
                                  attention_mask=torch.ones_like(torch.tensor(prompt)),
                                  pad_token_id=0).numpy()
    tokens = model.generate(fastdl.tensor(prompt), 12, temperature=0).numpy()
    np.testing.assert_array_equal(tokens, ref_tokens)
