"""Models from what Hugging Face ``transformers``' ``save_pretrained`` writes (``config.json`` and
``model.safetensors``), read with ``safetensors`` only: nothing is downloaded, and neither
``transformers`` nor ``torch`` is imported.

``gpt2_from_pretrained(directory)``: GPT-2 (``GPT2LMHeadModel`` / ``GPT2Model``) as
``fastdl.models.GPT``; its ``Conv1D`` weights are stored (in, out) and become ``Linear``'s
(out, in); the output layer is tied to the token embedding unless the config unties it
(``lm_head.weight``); n_inner, the attention scaling flags and the dropout rates follow the
config. Sharded checkpoints (``model.safetensors.index.json``) and float16/bfloat16 weights
(loaded as float32) are read too.
"""
from __future__ import annotations

import json
import os

import numpy as np

from fastdl.models.gpt import GPT, GPTConfig


def _read(directory):
    """(config, {name: array}) of a save_pretrained directory: model.safetensors, or the shards
    its model.safetensors.index.json lists. float16 and bfloat16 weights come as float32 (the
    kernels compute in float32 or float64)."""
    from fastdl.serialization import load
    with open(os.path.join(directory, "config.json")) as f:
        config = json.load(f)
    path = os.path.join(directory, "model.safetensors")
    index = path + ".index.json"
    if os.path.exists(path):
        files = [path]
    elif os.path.exists(index):
        with open(index) as f:
            shards = sorted(set(json.load(f)["weight_map"].values()))
        files = [os.path.join(directory, name) for name in shards]
    else:
        raise FileNotFoundError(f"neither {path} nor {index} exists (save_pretrained with "
                                "safe_serialization=True writes them)")
    tensors = {}
    for file in files:
        for name, t in load(file).items():
            a = t.numpy()
            tensors[name] = a.astype(np.float32) if a.dtype == np.float16 else a
    return config, tensors


def gpt2_from_pretrained(directory) -> GPT:
    config, tensors = _read(directory)
    if config.get("model_type", "gpt2") != "gpt2":
        raise ValueError(f"gpt2_from_pretrained: model_type is {config.get('model_type')!r}")
    act = config.get("activation_function", "gelu_new")
    if act not in ("gelu_new", "gelu_pytorch_tanh"):
        raise ValueError(f"gpt2_from_pretrained: activation {act!r} is not supported "
                         "(GPT-2's tanh GELU only)")
    tied = config.get("tie_word_embeddings", True)
    if not tied and "lm_head.weight" not in tensors:
        raise ValueError("gpt2_from_pretrained: tie_word_embeddings is false but the checkpoint "
                         "has no lm_head.weight")
    cfg = GPTConfig(vocab_size=config["vocab_size"], block_size=config["n_positions"],
                    n_layer=config["n_layer"], n_head=config["n_head"], n_embd=config["n_embd"],
                    n_inner=config.get("n_inner"),
                    layer_norm_eps=config.get("layer_norm_epsilon", 1e-5),
                    dropout=config.get("resid_pdrop", 0.1),
                    attn_dropout=config.get("attn_pdrop", 0.1),
                    embd_dropout=config.get("embd_pdrop", 0.1),
                    tie_word_embeddings=tied,
                    scale_attn_weights=config.get("scale_attn_weights", True),
                    scale_attn_by_inverse_layer_idx=config.get(
                        "scale_attn_by_inverse_layer_idx", False))
    prefix = "transformer." if any(k.startswith("transformer.") for k in tensors) else ""

    def get(name, transpose=False):
        a = tensors[prefix + name]
        return np.ascontiguousarray(a.T if transpose else a)

    state = {"wte.weight": get("wte.weight"), "wpe.weight": get("wpe.weight"),
             "ln_f.weight": get("ln_f.weight"), "ln_f.bias": get("ln_f.bias")}
    for i in range(cfg.n_layer):
        h = f"h.{i}."
        for ours, theirs, t in (("ln_1", "ln_1", False), ("ln_2", "ln_2", False),
                                ("attn.c_attn", "attn.c_attn", True),
                                ("attn.c_proj", "attn.c_proj", True),
                                ("c_fc", "mlp.c_fc", True), ("c_proj", "mlp.c_proj", True)):
            state[h + ours + ".weight"] = get(h + theirs + ".weight", t)
            state[h + ours + ".bias"] = get(h + theirs + ".bias")
    if not tied:
        state["lm_head.weight"] = np.ascontiguousarray(tensors["lm_head.weight"])
    model = GPT(cfg).to(dtype=state["wte.weight"].dtype)
    model.load_state_dict(state)
    model.eval()
    return model
