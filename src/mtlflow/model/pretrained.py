"""A pretrained BERT-family encoder from a local Hugging Face directory, via keras-hub.

``encoder: {type: pretrained, path: DIR}`` where ``DIR`` holds ``config.json``,
``model.safetensors`` and ``vocab.txt`` (a BERT checkpoint as Hugging Face saves it).
keras-hub converts the weights on load; nothing is downloaded and torch is not needed.
The WordPiece tokenizer runs inside the model's preprocessing with core TF ops
(:mod:`mtlflow.model.wordpiece`), so the exported SavedModel loads in stock TF Serving.

Labels stay per *word* (the config's tokenizer): every word is split into pieces on its
own, and the encoder reads each word's state at its first piece (JointBERT; Chen et al.,
2019, "BERT for Joint Intent Classification and Slot Filling"). Sentence-level tasks read
the mean of the piece states (``pooling: mean``, as sentence-transformers models are
trained) or the ``[CLS]`` state (``pooling: cls``).

keras-hub is an optional dependency: ``pip install "mtlflow[pretrained]"``.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import keras
from keras import ops

from mtlflow.errors import ConfigError

SUPPORTED_MODEL_TYPES = ("bert",)
CHECKPOINT_FILES = ("config.json", "vocab.txt")


@dataclass(frozen=True)
class CheckpointInfo:
    """What mtlflow reads from a checkpoint directory before building anything."""

    path: Path
    config: dict
    lowercase: bool
    max_length: int

    @property
    def vocab_path(self) -> Path:
        return self.path / "vocab.txt"

    @property
    def width(self) -> int:
        return int(self.config["hidden_size"])


def read_checkpoint(path: str | Path, need_weights: bool = True) -> CheckpointInfo:
    """Checks a Hugging Face BERT directory and reads its config and casing.

    Raises :class:`ConfigError` naming the missing file or unsupported model type.
    """
    path = Path(path)
    where = f"encoder.path: {path}"
    if not path.is_dir():
        raise ConfigError(f"{where}: no such directory; point it at a folder with config.json, "
                          "model.safetensors and vocab.txt (a BERT checkpoint in Hugging Face layout)")
    needed = CHECKPOINT_FILES + (("model.safetensors",) if need_weights else ())
    missing = [name for name in needed if not (path / name).is_file()]
    if missing:
        raise ConfigError(f"{where}: missing {', '.join(missing)}; the directory must hold config.json, "
                          "model.safetensors and vocab.txt (PyTorch .bin weights are not read: save as safetensors)")
    try:
        config = json.loads((path / "config.json").read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{where}/config.json: not readable JSON ({exc})") from None
    model_type = config.get("model_type")
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise ConfigError(f"{where}/config.json: model_type {model_type!r} is not supported; "
                          f"supported: {', '.join(SUPPORTED_MODEL_TYPES)} (WordPiece vocabularies)")
    lowercase = True
    tokenizer_config = path / "tokenizer_config.json"
    if tokenizer_config.is_file():
        try:
            lowercase = bool(json.loads(tokenizer_config.read_text("utf-8")).get("do_lower_case", True))
        except ValueError:
            pass
    return CheckpointInfo(path, config, lowercase, int(config.get("max_position_embeddings", 512)))


def copy_without_weights(path: str | Path, target: str | Path) -> Path:
    """Copies what rebuilds the encoder and its tokenizer (not the weights) into ``target``.

    A run directory keeps this copy: its own checkpoint holds the fine-tuned weights.
    """
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    for name in (*CHECKPOINT_FILES, "tokenizer_config.json"):
        if (Path(path) / name).is_file():
            shutil.copyfile(Path(path) / name, target / name)
    return target


def _keras_hub():
    try:
        import keras_hub
    except ImportError:
        raise ConfigError("encoder.type: pretrained needs keras-hub, which is not installed; "
                          'run: pip install "mtlflow[pretrained]"') from None
    return keras_hub


@keras.saving.register_keras_serializable(package="mtlflow")
class PretrainedEncoder(keras.layers.Layer):
    """``(token_ids [batch, pieces], word_starts [batch, words])`` → ``(word states, pooled)``.

    Args:
        path: the checkpoint directory (see the module docstring).
        pooling: ``mean`` over real pieces (``[CLS]``/``[SEP]`` included) or ``cls``.
        load_weights: read ``model.safetensors`` (``False`` builds the same architecture
            with fresh weights, for restoring a trained run from its own checkpoint).
        dropout: the checkpoint's dropout rate when ``None``.

    ``token_ids`` are 0-padded (BERT's ``[PAD]`` is 0); ``word_starts`` holds each word's
    first-piece position, 0 for padded words.
    """

    def __init__(self, path: str, pooling: str = "mean", load_weights: bool = True,
                 dropout: float | None = None, **kwargs):
        super().__init__(**kwargs)
        if pooling not in ("mean", "cls"):
            raise ValueError(f"Argument `pooling` must be 'mean' or 'cls'. Received: pooling={pooling!r}")
        self.checkpoint_path, self.pooling, self.load_weights, self.dropout_rate = str(path), pooling, load_weights, dropout
        info = read_checkpoint(path, need_weights=load_weights)
        keras_hub = _keras_hub()
        rate = info.config.get("hidden_dropout_prob", 0.1) if dropout is None else dropout
        if load_weights:
            self.backbone = keras_hub.models.BertBackbone.from_preset(str(info.path), dropout=rate)
        else:
            from keras_hub.src.utils.transformers.convert_bert import convert_backbone_config

            self.backbone = keras_hub.models.BertBackbone(**convert_backbone_config(info.config), dropout=rate)
        if info.config.get("hidden_act", "gelu") == "gelu":
            # BERT's "gelu" is the exact erf form; keras-hub builds the tanh approximation,
            # which moves every output by up to ~1e-3. Restore the checkpoint's function.
            for block in self.backbone.transformer_layers:
                block._feedforward_intermediate_dense.activation = keras.activations.gelu
        self.backbone.pooled_dense.trainable = False  # BERT's pooler: not used (see ``pooling``)
        self.width = info.width

    def call(self, token_ids, word_starts=None, training=None):
        mask = ops.not_equal(token_ids, 0)
        outputs = self.backbone(
            {"token_ids": token_ids, "segment_ids": ops.zeros_like(token_ids), "padding_mask": ops.cast(mask, "int32")},
            training=training,
        )
        states = outputs["sequence_output"]
        if self.pooling == "cls":
            pooled = states[:, 0]
        else:
            m = ops.cast(mask, states.dtype)[..., None]
            pooled = ops.sum(states * m, axis=1) / ops.maximum(ops.sum(m, axis=1), 1.0)
        words = None if word_starts is None else ops.take_along_axis(states, ops.cast(word_starts, "int32")[..., None], axis=1)
        return words, pooled

    def compute_output_spec(self, token_ids, word_starts=None, training=None):
        batch = token_ids.shape[0]
        words = None if word_starts is None else keras.KerasTensor((batch, word_starts.shape[1], self.width))
        return words, keras.KerasTensor((batch, self.width))

    @property
    def num_blocks(self) -> int:
        """The number of transformer blocks."""
        return len(self.backbone.transformer_layers)

    def variable_depths(self) -> list[tuple[keras.Variable, int]]:
        """Each trainable variable with its depth: 0 for the embeddings, ``i + 1`` for block ``i``."""
        blocks = {id(v): i + 1 for i, block in enumerate(self.backbone.transformer_layers)
                  for v in block.trainable_variables}
        return [(v, blocks.get(id(v), 0)) for v in self.trainable_variables]

    def get_config(self):
        return {**super().get_config(), "path": self.checkpoint_path, "pooling": self.pooling,
                "load_weights": self.load_weights, "dropout": self.dropout_rate}
