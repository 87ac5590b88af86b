"""Models from what Hugging Face ``transformers``' ``save_pretrained`` writes (``config.json`` and
``model.safetensors``), read with ``safetensors`` only: nothing is downloaded, and neither
``transformers`` nor ``torch`` is imported.

``gpt2_from_pretrained(directory)``: GPT-2 (``GPT2LMHeadModel`` / ``GPT2Model``) as
``fastdl.models.GPT``; its ``Conv1D`` weights are stored (in, out) and become ``Linear``'s
(out, in); the output layer is tied to the token embedding, as in GPT-2.
"""
from __future__ import annotations

import json
import os

import numpy as np

from fastdl.models.gpt import GPT, GPTConfig


def _read(directory):
    from safetensors.numpy import load_file
    with open(os.path.join(directory, "config.json")) as f:
        config = json.load(f)
    path = os.path.join(directory, "model.safetensors")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} not found (save_pretrained with safe_serialization)")
    return config, load_file(path)


def gpt2_from_pretrained(directory) -> GPT:
    config, tensors = _read(directory)
    if config.get("model_type", "gpt2") != "gpt2":
        raise ValueError(f"gpt2_from_pretrained: model_type is {config.get('model_type')!r}")
    act = config.get("activation_function", "gelu_new")
    if act not in ("gelu_new", "gelu_pytorch_tanh"):
        raise ValueError(f"gpt2_from_pretrained: activation {act!r} is not supported "
                         "(GPT-2's tanh GELU only)")
    cfg = GPTConfig(vocab_size=config["vocab_size"], block_size=config["n_positions"],
                    n_layer=config["n_layer"], n_head=config["n_head"], n_embd=config["n_embd"],
                    layer_norm_eps=config.get("layer_norm_epsilon", 1e-5))
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
    model = GPT(cfg).to(dtype=state["wte.weight"].dtype)
    model.load_state_dict(state)
    model.eval()
    return model
