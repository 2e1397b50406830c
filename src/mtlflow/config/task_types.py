"""The five task types' config entries (``type: multiclass`` ...), validated without TensorFlow.

Each task implementation in :mod:`mtlflow.tasks` names its spec here as ``spec_class``;
adding a task type is a spec here, a ``Task`` there, and one line in ``TaskConfig``.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal, Union

from pydantic import Field

from mtlflow.config.task_spec import TaskSpec

Probability = Annotated[float, Field(gt=0.0, lt=1.0)]


class MulticlassSpec(TaskSpec):
    """``type: multiclass``: one label per example out of K classes.

    Attributes:
      labels: fixed class inventory (default: the sorted labels of the training split).
      label_smoothing: ε in the training loss ``-(1-ε) log p_y - (ε/K) Σ_k log p_k``
        (the target mixes the one-hot label with the uniform distribution; Szegedy et al.,
        CVPR 2016). 0 (the default) is the plain cross-entropy. Metrics are unchanged.
    """

    metric_names: ClassVar[tuple[str, ...]] = ("accuracy", "macro_f1")
    type: Literal["multiclass"]
    labels: list[str] | None = None
    label_smoothing: float = Field(0.0, ge=0.0, lt=1.0)


class MultilabelSpec(TaskSpec):
    """``type: multilabel``: any subset of L labels per example.

    Attributes:
      labels: fixed label inventory (default: labels seen in the training split).
      threshold: probability at or above which a label is predicted; one number, or a
        mapping ``{label: threshold}`` (labels not listed use 0.5).
      separator: splits a text cell (CSV) into labels; JSONL may give a list instead.
        An empty cell or list means "labelled, no label applies"; null means missing.
    """

    metric_names: ClassVar[tuple[str, ...]] = ("micro_f1", "macro_f1", "exact_match")
    type: Literal["multilabel"]
    labels: list[str] | None = None
    threshold: Probability | dict[str, Probability] = 0.5
    separator: str = Field("|", min_length=1)


class BinarySpec(TaskSpec):
    """``type: binary``: a yes/no label.

    Attributes:
      positive: the raw value that means "yes" when the column is not boolean-like
        (booleans, 0/1, yes/no, true/false and pos/neg are understood without it).
      threshold: probability at or above which the prediction is positive.
      product_of: names of two or more other binary tasks whose probabilities this task's
        output is the product of, with no head of its own: ESMM (Ma et al., "Entire Space
        Multi-Task Model", SIGIR 2018) declares ``ctcvr`` with ``product_of: [ctr, cvr]`` and
        gives ``cvr`` ``weight: 0``, so CVR is learned over the entire impression space
        through ``pCTCVR = pCTR × pCVR``.
    """

    metric_names: ClassVar[tuple[str, ...]] = ("auc", "log_loss", "accuracy")
    type: Literal["binary"]
    positive: str | None = None
    threshold: float = Field(0.5, gt=0.0, lt=1.0)
    product_of: list[str] | None = Field(None, min_length=2)


class RegressionSpec(TaskSpec):
    """``type: regression``: one real-valued target.

    Attributes:
      normalize: learn on ``(y - mean) / std`` of the training split (the model still
        outputs values on the original scale).
    """

    metric_names: ClassVar[tuple[str, ...]] = ("rmse", "mae")
    type: Literal["regression"]
    normalize: bool = True


class TaggingSpec(TaskSpec):
    """``type: tagging``: one tag per token of the text input, e.g. ``B-date I-date O``.

    Attributes:
      scheme: ``bio`` or ``bioes``; spans are decoded with the conlleval rules.
      labels: fixed tag inventory (default: tags of the training split, plus ``O``).
      separator: splits a text cell (CSV) into tags; JSONL gives a list.
      constrained: decode the most probable *valid* tag sequence (Viterbi over the
        token log-probabilities, forbidding e.g. ``I-date`` after ``O``) instead of
        the per-token argmax, which can split or orphan a span. With ``decoder: crf``
        the CRF forbids those transitions in its likelihood and its decoding, and a
        training sequence that breaks them (e.g. IOB1's ``I-`` at a span start) is a
        label error.
      decoder: ``softmax`` (per-token softmax, token cross-entropy) or ``crf`` (a
        linear-chain CRF with learned transitions, sentence negative log-likelihood
        averaged per token, Viterbi decoding; Lample et al., NAACL 2016).
      condition_on: a multiclass task (e.g. the intent) whose predicted distribution is
        concatenated to every token's state before this task's tower and head, so the
        tags can depend on the predicted class (the intent → slot direction of joint
        models such as the slot-gated model, Goo et al., NAACL 2018, and Stack-Propagation,
        Qin et al., EMNLP 2019).
      condition_stop_gradient: feed the distribution as a constant (true: this task's loss
        does not train the other task's head through it) or let the gradient flow (false).
    """

    metric_names: ClassVar[tuple[str, ...]] = ("precision", "recall", "f1", "exact_match")
    type: Literal["tagging"]
    scheme: Literal["bio", "bioes"] = "bio"
    labels: list[str] | None = None
    separator: str | None = None
    constrained: bool = True
    decoder: Literal["softmax", "crf"] = "softmax"
    condition_on: str | None = None
    condition_stop_gradient: bool = True


TaskConfig = Annotated[
    Union[MulticlassSpec, MultilabelSpec, BinarySpec, RegressionSpec, TaggingSpec],
    Field(discriminator="type"),
]
"""One ``tasks:`` entry, chosen by its ``type``."""
