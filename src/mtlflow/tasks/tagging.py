"""Sequence labelling (slot filling, NER): one tag per token, decoded to spans.

Two decoders (``decoder:``):

* ``softmax`` (default): the head emits per-token probabilities; the loss is the token
  cross-entropy; decoding is the best valid sequence under them (``constrained``) or
  the per-token argmax.
* ``crf``: the head emits per-token emission scores ``[batch, time, tags]`` (the model
  output) into a :class:`~mtlflow.layers.CRF` (layer ``<task>``) that owns the learned
  transitions. The loss is the CRF negative log-likelihood, spread over the tokens as
  ``ℓ_t = NLL(y_1..t) - NLL(y_1..t-1)`` (:meth:`~mtlflow.layers.CRF.token_losses`),
  whose sum over a sentence's real tokens is its NLL: the trainer's per-token masked
  mean is then the **mean NLL per token** (the sentence NLLs summed, divided by the
  number of labelled tokens: the softmax's normalisation, and its token cross-entropy
  exactly when the transitions are 0).
  Evaluation and the exported graph decode with the CRF's Viterbi over the learned
  (and, with ``constrained``, the scheme's) transitions; ``_tag_scores`` are the CRF's
  per-token marginal probabilities of the decoded tags. The task reads the transitions
  from the CRF layer of the model last built with it (:meth:`TaggingTask.build_head`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import keras
import numpy as np
import tensorflow as tf

from mtlflow.config.task_types import TaggingSpec
from mtlflow.evaluate import metrics as M
from mtlflow.evaluate.spans import spans_from_tags, validate_tags
from mtlflow.tasks.base import LabelError, Task, as_text
from mtlflow.tasks.inventory import InventoryMixin, build_inventory
from mtlflow.tasks.span_decoding import decode_spans
from mtlflow.ops.viterbi import bio_constraints, viterbi_numpy, viterbi_tf

if TYPE_CHECKING:
    from mtlflow.layers.crf import CRF

_SCHEME_PREFIXES = {"bio": {"B", "I"}, "bioes": {"B", "I", "E", "S"}}


class TaggingTask(InventoryMixin, Task):
    """Per-token softmax (or CRF, ``decoder: crf``) over tags; loss masked at padding.

    Metrics are span-level precision / recall / F1 (CoNLL-2000 ``conlleval``; Tjong Kim
    Sang & Buchholz, 2000) and the share of sentences whose spans are all right.
    """

    type_name = "tagging"
    spec_class = TaggingSpec
    level = "token"
    label_dtype = "int32"

    def __init__(self, spec: TaggingSpec):
        super().__init__(spec)
        self.labels = spec.labels or []
        self.crf: CRF | None = None  # the CRF layer of the last model built (decoder: crf)

    def split(self, value: Any, location: str) -> list[str] | None:
        """The raw tag column as a list of tags (None when missing)."""
        if value is None:
            return None
        if isinstance(value, str):
            return value.split(self.spec.separator)
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return list(value)
        raise LabelError(
            f"{location}: task {self.name!r}: expected a list of tags or a string of tags, "
            f"got {value!r}"
        )

    def _check_scheme(self, tag: str, location: str) -> None:
        if tag == "O":
            return
        prefix, dash, kind = tag.partition("-")
        if not dash or not kind or prefix not in {"B", "I", "E", "S"}:
            raise LabelError(
                f"{location}: task {self.name!r}: tag {tag!r} is not O or <prefix>-<type> "
                f"with a prefix of {self.spec.scheme.upper()}"
            )
        if prefix not in _SCHEME_PREFIXES[self.spec.scheme]:
            raise LabelError(
                f"{location}: task {self.name!r}: tag {tag!r} uses prefix {prefix}- which the "
                f"{self.spec.scheme} scheme lacks; set tasks.{self.name}.scheme: bioes"
            )

    def fit(self, values):
        seen = ["O"]
        for value in values:
            try:
                seen.extend(self.split(value, "") or [])
            except LabelError:
                continue  # encode() reports it with its location
        inventory = build_inventory(seen, self.spec.labels)
        self.labels = ["O"] + [tag for tag in inventory if tag != "O"]  # "O" first: padding and "no span"

    def encode(self, value: Any, location: str):
        tags = self.split(value, location)
        if tags is None:
            return np.zeros(0, np.int32), 0.0
        ids = np.empty(len(tags), np.int32)
        for i, tag in enumerate(tags):
            self._check_scheme(tag, location)
            ids[i] = self.index_of(tag, location)
        if self.spec.decoder == "crf" and self.spec.constrained:
            problem = validate_tags(tags, self.spec.scheme)
            if problem:
                raise LabelError(
                    f"{location}: task {self.name!r}: {problem}, which the {self.spec.scheme} scheme forbids and "
                    f"the constrained CRF gives probability 0; start every span with B- (IOB1 → BIO), "
                    f"or set tasks.{self.name}.constrained: false"
                )
        return ids, 1.0

    def missing_label(self):
        return np.zeros(0, np.int32)

    def build_head(self, x):
        x = self.tower(x)
        if self.spec.decoder == "softmax":
            return keras.layers.Dense(len(self.labels), activation="softmax", name=self.name)(x)
        from mtlflow.layers.crf import CRF  # not at the top: mtlflow.layers.crf imports mtlflow.tasks (a cycle)

        emissions = keras.layers.Dense(len(self.labels), name=f"{self.name}_emissions")(x)
        constrained = self.spec.constrained
        self.crf = CRF(len(self.labels), tags=self.labels if constrained else None,
                       scheme=self.spec.scheme if constrained else None, name=self.name)
        return self.crf(emissions)

    def _crf_layer(self) -> CRF:
        if self.crf is None:
            raise RuntimeError(f"task {self.name!r} (decoder: crf) has no CRF layer yet; build the model "
                               "(build_model or build_head) before computing its loss or decoding")
        return self.crf

    def per_example_loss(self, y_true, y_pred):
        """Softmax: token cross-entropy. CRF: :meth:`CRF.token_losses`, ``[batch, label width]``.

        The CRF terms telescope, so the trainer's per-token mask (real tokens first) keeps
        exactly each labelled sentence's NLL; see the module docstring.
        """
        if self.spec.decoder == "softmax":
            return keras.losses.sparse_categorical_crossentropy(y_true, y_pred)
        width = tf.shape(y_true)[1]  # the labels may be narrower than the batch's token ids
        return self._crf_layer().token_losses(y_pred, y_true)[:, :width]

    def _tags(self, ids) -> list[str]:
        return [self.labels[i] for i in ids]

    def _gold_tags(self, gold) -> list[str]:
        """Gold tag ids → tags; a list of tag strings (a gold sequence holding a tag unseen in
        training, see :mod:`mtlflow.data.unseen`) is already the tags."""
        if isinstance(gold, list) and gold and isinstance(gold[0], str):
            return gold
        return self._tags(gold)

    def _constraints(self):
        """Transition/start/end scores of the current tag inventory (cached per inventory)."""
        key = tuple(self.labels)
        if getattr(self, "_constraints_for", None) != key:
            self._constraint_tables, self._constraints_for = bio_constraints(self.labels, self.spec.scheme), key
        return self._constraint_tables

    def _decoding_tables(self):
        """What :meth:`best_tags` decodes with: the CRF's potentials, or None."""
        return self._crf_layer().numpy_potentials() if self.spec.decoder == "crf" else None

    def best_tags(self, probabilities: np.ndarray, tables=None) -> list[str]:
        """One sequence's decoded tags (``[len, tags]`` probabilities, or CRF emission scores; no padding).

        ``tables``: the CRF's ``(transitions, start, end)`` (read from the layer when omitted).
        """
        if self.spec.decoder == "crf":
            return self._tags(viterbi_numpy(probabilities, *(self._decoding_tables() if tables is None else tables)))
        if not self.spec.constrained:
            return self._tags(np.argmax(probabilities, axis=-1))
        scores = np.log(np.maximum(probabilities, 1e-12))
        return self._tags(viterbi_numpy(scores, *self._constraints()))

    def _scored_pairs(self, y_true, y_pred):
        """(gold tags, predicted tags) per sentence. A gold longer than the prediction (a
        sentence cut at ``max_length``, kept whole for scoring) has the tokens the model did
        not see predicted ``O``."""
        tables = self._decoding_tables()
        for gold, scores in zip(y_true, y_pred):
            true_tags, pred_tags = self._gold_tags(gold), self.best_tags(scores, tables)
            yield true_tags, pred_tags + ["O"] * (len(true_tags) - len(pred_tags))

    def evaluate(self, y_true, y_pred):
        """``y_true``: list of tag-id arrays (or tag lists); ``y_pred``: list of ``[len, tags]`` model outputs."""
        true_tags, pred_tags = zip(*self._scored_pairs(y_true, y_pred)) if len(y_true) else ((), ())
        return M.span_prf(list(true_tags), list(pred_tags), scheme=self.spec.scheme)

    def correct(self, y_true, y_pred):
        scheme = self.spec.scheme
        return np.array(
            [set(spans_from_tags(t, scheme)) == set(spans_from_tags(p, scheme)) for t, p in self._scored_pairs(y_true, y_pred)],
            dtype=bool,
        )

    def serving_outputs(self, y_pred, tokens=None):
        if self.spec.decoder == "crf":
            best = self._crf_layer().decode(y_pred, tokens.mask)
            y_pred = self._crf_layer().marginals(y_pred, tokens.mask)  # scores: p(y_t = tag | x)
        elif self.spec.constrained:
            scores = tf.math.log(tf.maximum(y_pred, 1e-12))
            best = viterbi_tf(scores, tokens.mask, *self._constraints())
        else:
            best = tf.argmax(y_pred, axis=-1, output_type=tf.int32)
        best = tf.where(tokens.mask, best, 0)
        spans = decode_spans(best, tokens.mask, tokens.tokens, self.labels, tokens.joiner)
        chosen = tf.gather(y_pred, best, batch_dims=2)
        return {
            f"{self.name}_tags": tf.where(tokens.mask, tf.gather(tf.constant(self.labels), best), ""),
            f"{self.name}_tag_scores": tf.where(tokens.mask, chosen, 0.0),
            **{f"{self.name}_span_{k}": v for k, v in spans.items()},
        }

    def decode(self, outputs, index, tokens=None):
        n = self.name
        spans = []
        for kind, text, start, end in zip(
            outputs[f"{n}_span_types"][index],
            outputs[f"{n}_span_texts"][index],
            outputs[f"{n}_span_starts"][index],
            outputs[f"{n}_span_ends"][index],
        ):
            if int(start) < 0:
                continue
            scores = outputs[f"{n}_tag_scores"][index][int(start) : int(end)]
            spans.append(
                {
                    "type": as_text(kind),
                    "text": as_text(text),
                    "start": int(start),
                    "end": int(end),
                    "score": float(np.min(scores)),
                }
            )
        tags = [as_text(t) for t in outputs[f"{n}_tags"][index] if as_text(t)]
        return {"spans": spans, "tags": tags}
