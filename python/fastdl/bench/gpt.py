"""`fastdl bench gpt`: tokens/s of a GPT (6 layers, width 384, 6 heads, context 256, vocabulary
65 -- nanoGPT's character model) in fastdl and in PyTorch, the same weights in both, at 1 and 2
threads in one run.

- train: one training step (forward, cross-entropy, backward, AdamW step) on a batch of
  B x 256 tokens; tokens/s = B * 256 / step time.
- generate: greedy KV-cached generation of `--new-tokens` tokens after a 16-token prompt, batch
  1 (each step runs one token through the model against the cached keys and values); the two
  libraries' tokens are checked equal before timing.

Timing: the libraries alternate call by call (medians of `--repeats`, a pause and an untimed call
before each timed one: see fastdl.bench.common.interleaved_seconds), so other processes on a
shared machine slow both alike. FLOPs (for GFLOP/s and % of the fp32 FMA peak measured in this
run at that thread count): the matrix products only -- 2 flops per weight per token in the
Linear layers and the tied LM head, and in attention 4 * d flops per (query, visible key) pair
per layer (causal: (T + 1) / 2 keys on average); training counts 3x the forward (backward = 2x).
`--cpu-time` times by CPU time (minimum of the repeats, for 1 thread on a busy machine) and then
takes as the peak our fp32 GEMM's CPU-time rate (n = 512, 1 thread), as `fastdl bench attention`
does.
`--profile` adds fastdl's training step under cProfile. `--quick` runs a tiny model for tests.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from fastdl.bench.common import (both_libraries_at, cprofile_text, interleaved_seconds,
                                 markdown_table, peak_gflops)

FULL = dict(n_layer=6, n_head=6, n_embd=384, block_size=256, vocab_size=65, batch=8,
            prompt=16, new_tokens=64)
QUICK = dict(n_layer=2, n_head=2, n_embd=32, block_size=32, vocab_size=17, batch=2, prompt=4,
             new_tokens=6)


def torch_gpt(n_layer, n_head, n_embd, block_size, vocab_size):
    """fastdl.models.GPT written in PyTorch with the same parameter names (so a state dict
    copies over), torch's fused SDPA, and a KV-cached greedy ``generate``."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_attn = nn.Linear(n_embd, 3 * n_embd)
            self.c_proj = nn.Linear(n_embd, n_embd)

        def forward(self, x, cache=None):
            B, L, E = x.shape
            q, k, v = (t.view(B, L, n_head, E // n_head).transpose(1, 2)
                       for t in self.c_attn(x).split(E, dim=2))
            causal = True
            if cache is not None:
                if cache:
                    k, v = torch.cat([cache[0], k], 2), torch.cat([cache[1], v], 2)
                    causal = L > 1  # one new token sees every cached key
                cache[:] = [k, v]
            y = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
            return self.c_proj(y.transpose(1, 2).reshape(B, L, E))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1 = nn.LayerNorm(n_embd)
            self.attn = Attention()
            self.ln_2 = nn.LayerNorm(n_embd)
            self.c_fc = nn.Linear(n_embd, 4 * n_embd)
            self.c_proj = nn.Linear(4 * n_embd, n_embd)

        def forward(self, x, cache=None):
            x = x + self.attn(self.ln_1(x), cache)
            return x + self.c_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = nn.Embedding(vocab_size, n_embd)
            self.wpe = nn.Embedding(block_size, n_embd)
            self.h = nn.ModuleList([Block() for _ in range(n_layer)])
            self.ln_f = nn.LayerNorm(n_embd)

        def forward(self, idx, caches=None, start=0):
            pos = torch.arange(start, start + idx.shape[1])
            x = self.wte(idx) + self.wpe(pos)
            for i, block in enumerate(self.h):
                x = block(x, None if caches is None else caches[i])
            return F.linear(self.ln_f(x), self.wte.weight)

        @torch.no_grad()
        def generate(self, idx, max_new_tokens):
            caches = [[] for _ in self.h]
            logits = self(idx, caches)
            out = [idx]
            for step in range(max_new_tokens):
                nxt = logits[:, -1].argmax(-1, keepdim=True)
                out.append(nxt)
                if step + 1 < max_new_tokens:
                    logits = self(nxt, caches, start=idx.shape[1] + step)
            return torch.cat(out, 1)

    return GPT()


def flops(cfg, kind):
    """Matrix-product FLOPs of one training step ("train") or of one generation ("generate")."""
    E, Lyr, V = cfg["n_embd"], cfg["n_layer"], cfg["vocab_size"]
    weights = Lyr * 12 * E * E + V * E  # c_attn 3E^2, c_proj E^2, MLP 8E^2 per layer; LM head
    if kind == "train":
        T, B = cfg["block_size"], cfg["batch"]
        fwd = 2 * weights * B * T + Lyr * 4 * E * B * T * (T + 1) / 2
        return 3 * fwd
    P, N = cfg["prompt"], cfg["new_tokens"]
    # the prompt (causal), then N - 1 single-token steps against P .. P + N - 2 cached keys
    total = 2 * weights * P + Lyr * 4 * E * P * (P + 1) / 2
    for t in range(P, P + N - 1):
        total += 2 * weights + Lyr * 4 * E * (t + 1)
    return total


def make_cases(cfg, seed=0):
    """{"train": {lib: step}, "generate": {lib: call}}: the same weights and data in both."""
    import torch

    import fastdl
    from fastdl.models import GPT, GPTConfig
    from fastdl.nn import functional as F
    arch = {k: cfg[k] for k in ("n_layer", "n_head", "n_embd", "block_size", "vocab_size")}
    torch.manual_seed(seed)
    t_model = torch_gpt(**arch)
    f_model = GPT(GPTConfig(dropout=0.0, **arch))
    f_model.load_state_dict({k: v.detach().numpy().copy()
                             for k, v in t_model.state_dict().items()})
    rng = np.random.default_rng(seed)
    B, T, V = cfg["batch"], cfg["block_size"], cfg["vocab_size"]
    data = rng.integers(0, V, (B, T + 1))
    fx, fy = fastdl.tensor(data[:, :-1]), fastdl.tensor(data[:, 1:].reshape(-1))
    tx, ty = torch.tensor(data[:, :-1]), torch.tensor(data[:, 1:].reshape(-1))
    f_opt = fastdl.optim.AdamW(f_model.parameters(), lr=1e-4)
    t_opt = torch.optim.AdamW(t_model.parameters(), lr=1e-4)

    def f_train():
        f_model.train()
        loss = F.cross_entropy(f_model(fx).reshape(-1, V), fy)
        f_opt.zero_grad()
        loss.backward()
        f_opt.step()

    def t_train():
        t_model.train()
        loss = torch.nn.functional.cross_entropy(t_model(tx).reshape(-1, V), ty)
        t_opt.zero_grad()
        loss.backward()
        t_opt.step()

    prompt = rng.integers(0, V, (1, cfg["prompt"]))
    N = cfg["new_tokens"]

    def f_gen():
        f_model.eval()
        return f_model.generate(fastdl.tensor(prompt), N, temperature=0).numpy()

    def t_gen():
        t_model.eval()
        return t_model.generate(torch.tensor(prompt), N).numpy()

    a, b = f_gen(), t_gen()
    if not np.array_equal(a, b):  # same weights, same greedy tokens (fp32 ties aside)
        agree = int((a == b).all(0).cumprod().sum()) - cfg["prompt"]
        print(f"# note: greedy tokens agree for the first {agree} of {N} new tokens "
              "(float32 rounding near ties)")
    return {"train": {"fastdl": f_train, "torch": t_train},
            "generate": {"fastdl": f_gen, "torch": t_gen}}, f_train


def measure(cfg, threads_list, repeats, cpu_time=False):
    """[(threads, kind, {lib: seconds}, peak GFLOP/s)]; with ``cpu_time`` the minimum CPU time
    of the interleaved calls instead of the median wall time (1 thread on a busy machine)."""
    from fastdl.bench.attention import _gemm_cpu_gflops, cpu_seconds
    results = []
    for threads in threads_list:
        with both_libraries_at(threads):
            # --cpu-time: the peak is our GEMM's CPU-time rate (as `fastdl bench attention`)
            peak = _gemm_cpu_gflops() if cpu_time else peak_gflops(threads)
            cases, _ = make_cases(cfg)
            for kind, fns in cases.items():
                secs = cpu_seconds(fns, repeats) if cpu_time else interleaved_seconds(
                    fns, repeats, 0.25 if threads > 1 else 0.0)
                results.append((threads, kind, secs, peak))
    return results


def table(cfg, results):
    headers = ["pass", "threads", "fastdl tokens/s", "torch tokens/s", "fastdl / torch",
               "fastdl GFLOP/s", "fastdl % peak", "torch % peak", "peak GFLOP/s"]
    rows = []
    for threads, kind, secs, peak in results:
        f, t = secs["fastdl"], secs["torch"]
        tokens = cfg["batch"] * cfg["block_size"] if kind == "train" else cfg["new_tokens"]
        gf = flops(cfg, kind) * 1e-9
        rows.append([kind, threads, tokens / f, tokens / t, t / f, gf / f, 100 * gf / f / peak,
                     100 * gf / t / peak, peak])
    return markdown_table(headers, rows)


def profile(cfg, threads, top=20):
    """fastdl's training step under cProfile: the functions with the most time of their own."""
    with both_libraries_at(threads):
        return cprofile_text(make_cases(cfg)[1], 3, top)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="fastdl bench gpt", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    parser.add_argument("--repeats", type=int, default=7, help="timed calls per library (median)")
    parser.add_argument("--batch", type=int, default=None, help="training batch (default 8)")
    parser.add_argument("--new-tokens", type=int, default=None,
                        help="tokens generated per timed generation (default 64)")
    parser.add_argument("--cpu-time", action="store_true",
                        help="time by CPU time (minimum of the repeats) instead of wall time: "
                             "for 1 thread on a busy shared machine")
    parser.add_argument("--quick", action="store_true", help="a tiny GPT (for tests)")
    parser.add_argument("--profile", action="store_true",
                        help="also print fastdl's training step under cProfile")
    args = parser.parse_args(argv)
    cfg = dict(QUICK if args.quick else FULL)
    if args.batch:
        cfg["batch"] = args.batch
    if args.new_tokens:
        cfg["new_tokens"] = args.new_tokens
    threads = [int(t) for t in args.threads.split(",")]
    import fastdl
    from fastdl import _C
    t0 = time.perf_counter()
    print(f"# fastdl bench gpt: GPT {cfg['n_layer']} layers x {cfg['n_embd']} wide, "
          f"{cfg['n_head']} heads, context {cfg['block_size']}, vocabulary {cfg['vocab_size']}; "
          f"train = forward + cross-entropy + backward + AdamW on {cfg['batch']} x "
          f"{cfg['block_size']} tokens; generate = {cfg['new_tokens']} greedy KV-cached tokens "
          f"after a {cfg['prompt']}-token prompt, batch 1; float32, {_C.simd_path()} kernels, "
          f"fastdl {fastdl.__version__}; "
          + (f"minimum CPU time of {args.repeats}" if args.cpu_time else
             f"medians of {args.repeats}") + " interleaved calls")
    results = measure(cfg, threads, args.repeats, args.cpu_time)
    print(f"# GFLOP per call (matrix products): train {flops(cfg, 'train') * 1e-9:.2f}, "
          f"generate {flops(cfg, 'generate') * 1e-9:.3f}")
    print(table(cfg, results))
    if args.profile:
        print(f"\n## fastdl training step under cProfile ({threads[-1]} thread(s))\n")
        print(profile(cfg, threads[-1]))
    print(f"({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    main()
