"""A tiny random BERT checkpoint in Hugging Face layout, and a NumPy forward pass of it.

The checkpoint has the file names, tensor names and layouts Hugging Face writes
(``torch.nn.Linear`` weights are ``[out, in]``), so the loading code is exercised exactly
as with a real checkpoint; the NumPy forward pass is the reference the Keras encoder must
reproduce (BERT: Devlin et al., NAACL 2019).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def write_tiny_bert(directory: Path, words: list[str], *, layers: int = 2, hidden: int = 32, heads: int = 4,
                    intermediate: int = 64, max_positions: int = 64, seed: int = 0) -> Path:
    """Writes config.json, vocab.txt, tokenizer_config.json and model.safetensors; returns the dir."""
    from safetensors.numpy import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    vocab = SPECIAL + sorted(set(words)) + ["##s", "##ing", "##ed"]
    (directory / "vocab.txt").write_text("\n".join(vocab) + "\n", "utf-8")
    (directory / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True}), "utf-8")
    config = {"model_type": "bert", "architectures": ["BertModel"], "vocab_size": len(vocab), "hidden_size": hidden,
              "num_hidden_layers": layers, "num_attention_heads": heads, "intermediate_size": intermediate,
              "max_position_embeddings": max_positions, "type_vocab_size": 2, "hidden_act": "gelu",
              "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1, "layer_norm_eps": 1e-12,
              "pad_token_id": 0}
    (directory / "config.json").write_text(json.dumps(config, indent=1), "utf-8")
    rng = np.random.default_rng(seed)
    w = lambda *shape: rng.normal(0, 0.2, shape).astype(np.float32)  # noqa: E731
    tensors = {
        "embeddings.word_embeddings.weight": w(len(vocab), hidden),
        "embeddings.position_embeddings.weight": w(max_positions, hidden),
        "embeddings.token_type_embeddings.weight": w(2, hidden),
        "embeddings.LayerNorm.weight": 1 + w(hidden), "embeddings.LayerNorm.bias": w(hidden),
        "pooler.dense.weight": w(hidden, hidden), "pooler.dense.bias": w(hidden),
    }
    for i in range(layers):
        p = f"encoder.layer.{i}."
        for name in ("query", "key", "value"):
            tensors[p + f"attention.self.{name}.weight"], tensors[p + f"attention.self.{name}.bias"] = w(hidden, hidden), w(hidden)
        tensors[p + "attention.output.dense.weight"], tensors[p + "attention.output.dense.bias"] = w(hidden, hidden), w(hidden)
        tensors[p + "attention.output.LayerNorm.weight"], tensors[p + "attention.output.LayerNorm.bias"] = 1 + w(hidden), w(hidden)
        tensors[p + "intermediate.dense.weight"], tensors[p + "intermediate.dense.bias"] = w(intermediate, hidden), w(intermediate)
        tensors[p + "output.dense.weight"], tensors[p + "output.dense.bias"] = w(hidden, intermediate), w(hidden)
        tensors[p + "output.LayerNorm.weight"], tensors[p + "output.LayerNorm.bias"] = 1 + w(hidden), w(hidden)
    save_file(tensors, str(directory / "model.safetensors"))
    return directory


def _layer_norm(x, gamma, beta, eps=1e-12):
    mean = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def _gelu(x):
    return 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


def numpy_bert(directory: Path, token_ids: np.ndarray) -> np.ndarray:
    """Sequence output ``[batch, time, hidden]`` of the checkpoint for 0-padded ``token_ids``."""
    from safetensors.numpy import load_file

    t = load_file(str(Path(directory) / "model.safetensors"))
    config = json.loads((Path(directory) / "config.json").read_text())
    heads = config["num_attention_heads"]
    batch, time = token_ids.shape
    x = t["embeddings.word_embeddings.weight"][token_ids] + t["embeddings.position_embeddings.weight"][:time][None] \
        + t["embeddings.token_type_embeddings.weight"][0]
    x = _layer_norm(x, t["embeddings.LayerNorm.weight"], t["embeddings.LayerNorm.bias"])
    bias = np.where(token_ids != 0, 0.0, -1e9)[:, None, None, :]  # [batch, 1, 1, keys]
    for i in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        dense = lambda h, name: h @ t[p + name + ".weight"].T + t[p + name + ".bias"]  # noqa: E731
        split = lambda h: h.reshape(batch, time, heads, -1).transpose(0, 2, 1, 3)  # noqa: E731
        q, k, v = (split(dense(x, f"attention.self.{n}")) for n in ("query", "key", "value"))
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(q.shape[-1]) + bias
        weights = np.exp(scores - scores.max(-1, keepdims=True))
        weights /= weights.sum(-1, keepdims=True)
        attended = (weights @ v).transpose(0, 2, 1, 3).reshape(batch, time, -1)
        x = _layer_norm(x + dense(attended, "attention.output.dense"),
                        t[p + "attention.output.LayerNorm.weight"], t[p + "attention.output.LayerNorm.bias"])
        h = dense(_gelu(dense(x, "intermediate.dense")), "output.dense")
        x = _layer_norm(x + h, t[p + "output.LayerNorm.weight"], t[p + "output.LayerNorm.bias"])
    return x
