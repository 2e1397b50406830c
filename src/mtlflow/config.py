"""The YAML config, validated into typed objects; errors name the key path.

Sections: ``data``, ``inputs``, ``encoder``, ``sharing``, ``tasks``, ``training``,
``export``. Adding a task is adding an entry under ``tasks:``. ``mtlflow schema``
prints the JSON schema of :class:`Config` for editors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args

import yaml
from pydantic import Field, ValidationError, model_validator

from mtlflow.config_base import StrictModel
from mtlflow.errors import ConfigError
from mtlflow.tasks import BinarySpec, MulticlassSpec, MultilabelSpec, RegressionSpec, TaggingSpec

PositiveInt = Annotated[int, Field(gt=0, strict=True)]
Rate = Annotated[float, Field(ge=0.0, lt=1.0)]


class DataConfig(StrictModel):
    """Where the examples are and what to do with bad ones.

    Paths are relative to the config file. Without ``validation``, a seeded
    ``validation_split`` of the training file is held out. ``quotes: false`` reads CSV/TSV
    without quote processing (plain TSV whose texts may begin with ``"``). ``max_rows``
    keeps only the first that many rows of every split (quick smoke runs).

    ``unseen_labels``: how evaluation scores a validation/test gold label that training
    lacks (masked under ``on_bad_label: mask``): ``count_as_errors`` (as published
    evaluations do: a wrong intent, missed slot spans, a wrong sentence) or ``exclude``
    (those rows leave that task's and the joint metrics). See :mod:`mtlflow.evaluate.unseen`.
    """

    format: Literal["csv", "tsv", "jsonl", "jointbert", "conll"] | None = None
    train: str
    validation: str | None = None
    test: str | None = None
    validation_split: float = Field(0.1, ge=0.0, lt=1.0)
    on_bad_row: Literal["error", "skip"] = "error"
    on_bad_label: Literal["error", "mask"] = "error"
    unseen_labels: Literal["count_as_errors", "exclude"] = "count_as_errors"
    bucket_boundaries: list[PositiveInt] | None = None
    quotes: bool = True
    max_rows: PositiveInt | None = None


class TextInput(StrictModel):
    """A text column, tokenised inside the model (core TF string ops only).

    ``whitespace`` splits on whitespace (space-separated languages); ``char`` makes
    every non-space character a token (Chinese); ``mixed`` splits on whitespace but makes
    every CJK character its own token (corpora mixing English and Chinese). Tokens past
    ``max_length`` are cut.
    """

    column: str = "text"
    tokenizer: Literal["whitespace", "char", "mixed"] = "whitespace"
    lowercase: bool = False
    max_length: PositiveInt = 128
    min_count: PositiveInt = 1
    max_vocab: PositiveInt | None = None


class DenseInput(StrictModel):
    """A precomputed vector per example (e.g. a 768-d sentence embedding)."""

    column: str
    dim: PositiveInt


class InputsConfig(StrictModel):
    """The model's raw inputs; at least one kind must be given."""

    text: TextInput | None = None
    dense: DenseInput | None = None
    numeric: list[str] = Field(default_factory=list)
    categorical: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _at_least_one(self):
        if not (self.text or self.dense or self.numeric or self.categorical):
            raise ValueError("no input given; set at least one of text, dense, numeric, categorical")
        return self


class CharCNNConfig(StrictModel):
    """``encoder.char_cnn``: character-CNN word features (Ma and Hovy, ACL 2016).

    Each word's first ``max_chars`` characters are embedded (``dim``), convolved with
    ``filters`` filters of each width in ``widths`` and max-pooled over the word; the
    ``filters · len(widths)`` features are concatenated with the word embedding. The
    character vocabulary is the training split's (``vocab.json``'s ``chars``).
    """

    dim: PositiveInt = 32
    filters: PositiveInt = 64
    widths: list[PositiveInt] = Field(default_factory=lambda: [3], min_length=1)
    max_chars: PositiveInt = 24
    dropout: Rate = 0.0


class JointInteractionConfig(StrictModel):
    """``encoder.interaction``: how the intent and slot streams of a joint NLU model interact.

    Both need a text encoder with ``sharing.type: hard``, a ``multiclass`` task (``intent``)
    and a ``tagging`` task (``slots``) that has no ``condition_on``:

    * ``stack_propagation`` (Qin et al., EMNLP 2019): an LSTM intent decoder predicts the
      intent at every token; the tokens' majority vote is the utterance intent
      (:class:`~mtlflow.layers.TokenIntentVoting`), and an LSTM slot decoder reads each
      token's state with that token's intent distribution, so the slot loss trains the
      intent decoder too;
    * ``co_interactive`` (Qin et al., ICASSP 2021): label attention gives an intent and a
      slot stream (:class:`~mtlflow.layers.LabelAttention`), ``layers`` co-interactive
      layers let each attend to the other (:class:`~mtlflow.layers.CoInteractiveAttention`);
      the intent reads the max-pooled intent stream, the slots the slot stream;
    * ``sf_id`` (E et al., ACL 2019): the SF-ID network (:class:`~mtlflow.layers.SFIDNetwork`),
      the intent context gating slot vectors and the slot vectors refining the intent
      vector, ``layers`` rounds.

    ``units``: the decoders' LSTM width (``stack_propagation``) or the feed-forward width
    (``co_interactive``). ``layers``: co-interactive layers / SF-ID iterations. ``dropout``:
    on the decoders' inputs / the attention weights.
    """

    type: Literal["stack_propagation", "co_interactive", "sf_id"]
    intent: str = "intent"
    slots: str = "slots"
    units: PositiveInt = 128
    layers: PositiveInt = 1
    dropout: Rate = 0.1


class EncoderConfig(StrictModel):
    """How inputs become a shared representation.

    Text: embedding → ``type`` (BiLSTM, BiGRU or Transformer) → token states plus a
    pooled vector. Dense, numeric and categorical inputs go through the ``mlp``.
    ``token_dropout`` replaces tokens by the unknown-token id with that probability
    while training, so unseen words are labelled from their context.

    ``type: pretrained`` with ``path: DIR`` fine-tunes a BERT checkpoint in Hugging Face
    layout (config.json, model.safetensors, vocab.txt; relative to the config file) through
    keras-hub; WordPiece runs inside the model and tagging tasks read each word's first
    piece. ``pooling`` is then ``mean`` or ``cls``; ``dropout`` null keeps the checkpoint's.

    ``char_cnn`` (null = off) adds character-CNN features to every word's embedding
    (:class:`CharCNNConfig`), for words unseen in training.

    ``interaction`` (null = off) joins an intent task and a slot task with a joint-NLU
    interaction module (:class:`JointInteractionConfig`).
    """

    type: Literal["bilstm", "bigru", "transformer", "pretrained"] = "bilstm"
    path: str | None = None
    embedding_dim: PositiveInt = 64
    units: PositiveInt = 64
    layers: PositiveInt = 1
    heads: PositiveInt = 4
    ff_units: PositiveInt = 128
    dropout: Rate = 0.1
    token_dropout: Rate = 0.0
    pooling: Literal["mean", "max", "cls"] = "mean"
    categorical_dim: PositiveInt = 16
    mlp: list[PositiveInt] = Field(default_factory=lambda: [128])
    char_cnn: CharCNNConfig | None = None
    interaction: JointInteractionConfig | None = None


_SHARING_KEYS = {
    "hard": {"units", "dropout"},
    "none": {"units", "dropout"},
    "mmoe": {"experts", "expert_units", "gate_units", "dropout"},
    "cgc": {"shared_experts", "task_experts", "expert_units", "dropout"},
    "ple": {"shared_experts", "task_experts", "expert_units", "levels", "dropout"},
    "cross_stitch": {"units", "alpha_self", "dropout"},
}


class SharingConfig(StrictModel):
    """How tasks share the encoder's output; switching architecture is one line.

    * ``hard``: one encoder for every task, then optional shared ``units`` layers;
    * ``none``: a separate encoder (and ``units`` layers) per task, the single-task baseline;
    * ``mmoe``: ``experts`` MLP experts of ``expert_units``, one softmax gate per task
      (Ma et al., KDD 2018);
    * ``cgc`` / ``ple``: ``shared_experts`` plus ``task_experts`` per task, gated per task,
      over ``levels`` extraction levels for ``ple`` (Tang et al., RecSys 2020);
    * ``cross_stitch``: one MLP column of ``units`` per task, mixed after every layer by a
      learned matrix initialised to ``alpha_self`` on its diagonal (Misra et al., CVPR 2016).

    Sentence-level tasks share the pooled vector and token-level tasks the token states;
    with both kinds present each kind gets its own sharing layer.
    """

    type: Literal["hard", "none", "mmoe", "cgc", "ple", "cross_stitch"] = "hard"
    units: list[PositiveInt] | None = None
    dropout: Rate = 0.0
    experts: PositiveInt | None = None
    expert_units: list[PositiveInt] | None = None
    gate_units: list[PositiveInt] | None = None
    shared_experts: PositiveInt | None = None
    task_experts: PositiveInt | None = None
    levels: PositiveInt | None = None
    alpha_self: float | None = Field(None, gt=0.0, le=1.0)

    @model_validator(mode="after")
    def _keys_of_type(self):
        allowed = _SHARING_KEYS[self.type]
        for key in sorted(self.model_fields_set - {"type"}):
            if getattr(self, key) is not None and key not in allowed:
                users = sorted(t for t, keys in _SHARING_KEYS.items() if key in keys)
                raise _KeyError(f"sharing.{key}", f"not used by sharing type {self.type!r} (only by {', '.join(users)}); "
                                f"keys for {self.type!r}: {', '.join(sorted(allowed))}")
        return self

    def setting(self, key: str):
        """The value of ``key``, or its default for this sharing type when unset."""
        value = getattr(self, key)
        if value is not None:
            return value
        return {"units": [] if self.type in ("hard", "none") else [64, 32], "experts": 8, "expert_units": [16],
                "gate_units": [], "shared_experts": 1, "task_experts": 1, "levels": 2, "alpha_self": 0.9}[key]


TaskConfig = Annotated[
    Union[MulticlassSpec, MultilabelSpec, BinarySpec, RegressionSpec, TaggingSpec],
    Field(discriminator="type"),
]


class EarlyStopping(StrictModel):
    """Stop when ``monitor`` has not improved for ``patience`` epochs; keep the best weights.

    ``monitor`` is ``loss`` (the weighted validation loss, also ``joint.loss``),
    ``joint.accuracy``, or ``<task>.<metric>`` (e.g. ``slots.f1``, ``intent.loss``).
    """

    monitor: str = "loss"
    mode: Literal["min", "max", "auto"] = "auto"
    patience: PositiveInt = 3
    min_delta: float = Field(0.0, ge=0.0)


# Hyperparameters each balancing method takes from the config (the trainer supplies
# ``fixed``'s weights from the tasks' ``weight``, ``uncertainty``'s regression flags from the
# task types, and ``dwa``'s period from the steps per epoch unless it is given).
BALANCE_HYPERPARAMETERS: dict[str, tuple[str, ...]] = {
    "fixed": (),
    "uncertainty": ("learning_rate",),
    "dwa": ("temperature", "period"),
    "rlw": ("seed",),
    "gradnorm": ("alpha", "learning_rate"),
    "pcgrad": ("seed",),
    "cagrad": ("c", "iterations", "rescale"),
    "mgda": ("iterations",),
    "nash_mtl": ("iterations",),
    "aligned_mtl": (),
    "imtl": (),
}


class BalanceConfig(StrictModel):
    """How task losses (or their gradients) are combined, e.g. ``{method: cagrad, c: 0.4}``.

    ``method``: ``fixed`` (each task's ``weight``), ``uncertainty``, ``dwa``, ``rlw``,
    ``gradnorm``, ``pcgrad``, ``cagrad``, ``mgda``, ``nash_mtl``, ``aligned_mtl``, ``imtl``
    (see :mod:`mtlflow.balance`); the method's hyperparameters go beside it. ``every: k``
    recomputes the weights every k-th step only and reuses them in between;
    ``normalize: true`` rescales every task gradient to the mean norm first. Tasks with
    ``weight: 0`` (e.g. ESMM's unsupervised CVR tower) take no part in balancing.

    ``gradients``: what gradient-level methods combine. ``parameters`` (exact): each task's
    gradient on the shared parameters, one backward pass per task through the shared
    trunk. ``representation`` (fast): each task's gradient on the shared representation
    (the encoder's output, per example), combined there and back-propagated through the
    encoder once — the "MGDA-UB" upper bound of Sener & Koltun (2018), LibMTL's
    ``rep_grad``. Under ``tf.distribute`` the representation is per replica, so each replica
    combines its own examples' gradients.
    """

    method: Literal["fixed", "uncertainty", "dwa", "rlw", "gradnorm", "pcgrad", "cagrad", "mgda",
                    "nash_mtl", "aligned_mtl", "imtl"] = "fixed"
    every: PositiveInt = 1
    normalize: bool = False
    gradients: Literal["parameters", "representation"] = "parameters"
    # the methods' hyperparameters (see mtlflow.balance); each method takes its own
    learning_rate: float | None = Field(None, gt=0.0)
    temperature: float | None = Field(None, gt=0.0)
    period: PositiveInt | None = None
    seed: int | None = None
    alpha: float | None = Field(None, ge=0.0)
    c: float | None = Field(None, ge=0.0)
    iterations: PositiveInt | None = None
    rescale: Literal[0, 1, 2] | None = None

    @model_validator(mode="after")
    def _known_hyperparameters(self):
        allowed = BALANCE_HYPERPARAMETERS[self.method]
        for key in sorted(self.model_fields_set):
            if key in _ALL_HYPERPARAMETERS and getattr(self, key) is not None and key not in allowed:
                users = sorted(m for m, keys in BALANCE_HYPERPARAMETERS.items() if key in keys)
                raise _KeyError(f"training.balance.{key}",
                                f"not a hyperparameter of {self.method!r} (only of {', '.join(users)}); "
                                "allowed keys: " + ", ".join(["method", "every", "normalize", "gradients", *allowed]))
        return self

    @property
    def hyperparameters(self) -> dict:
        """The method's hyperparameters that the config sets."""
        return {k: getattr(self, k) for k in BALANCE_HYPERPARAMETERS[self.method] if getattr(self, k) is not None}


_ALL_HYPERPARAMETERS = {k for keys in BALANCE_HYPERPARAMETERS.values() for k in keys}


class GroupConfig(StrictModel):
    """Optimizer settings of one parameter group (``shared`` or a task's tower and head)."""

    optimizer: Literal["adam", "adamw", "sgd"] | None = None
    learning_rate: float | None = Field(None, gt=0.0)


class StageConfig(StrictModel):
    """One stage of a training schedule: for ``epochs`` (or ``steps``), ``freeze`` these groups
    and scale the learning rate of others by ``learning_rate_multipliers``. The last stage
    may omit its length: it lasts until the end."""

    epochs: PositiveInt | None = None
    steps: PositiveInt | None = None
    freeze: list[str] = Field(default_factory=list)
    learning_rate_multipliers: dict[str, Annotated[float, Field(gt=0.0)]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_length(self):
        if self.epochs is not None and self.steps is not None:
            raise ValueError("give a stage either epochs or steps, not both")
        return self


class DistributionConfig(StrictModel):
    """``tf.distribute`` strategy; every one takes the same synchronous step as one device
    with the same global batch (``training.batch_size``).

    * ``none``: one device.
    * ``mirrored``: this machine's devices (``devices``: how many; on a CPU-only machine
      they are logical CPU devices).
    * ``multi_worker``: ``MultiWorkerMirroredStrategy`` over the processes that the
      ``TF_CONFIG`` environment variable lists (checked when training starts: without it the
      error says how to set it). ``devices``: GPUs per worker (default all; on CPU a worker
      is one replica). ``communication``: the all-reduce, ``auto``, ``ring`` (gRPC) or
      ``nccl`` (GPUs). Only the chief writes the run directory.

    ``parameter_server`` is not offered: ``ParameterServerStrategy`` workers apply their own
    batch's gradients asynchronously, with no all-reduce between them, whereas the trainer's
    step needs the whole global batch at once — the masked means divide by the global label
    count, and gradient-level balancers (PCGrad, MGDA, CAGrad, Nash-MTL …) combine every
    task's gradient of the same batch. Under asynchronous updates each worker would balance
    its own slice against stale parameters, which is a different algorithm, not the same one
    scaled out.
    """

    strategy: Literal["none", "mirrored", "multi_worker"] = "none"
    devices: PositiveInt | None = None
    communication: Literal["auto", "ring", "nccl"] = "auto"

    @model_validator(mode="before")
    @classmethod
    def _no_parameter_server(cls, data):
        if isinstance(data, dict) and data.get("strategy") == "parameter_server":
            raise ValueError("strategy: 'parameter_server' is not supported: its asynchronous per-worker updates "
                             "cannot give gradient-level balancers every task's gradient of the same global batch; "
                             "use 'multi_worker' (synchronous, one TF_CONFIG per worker)")
        return data

    @model_validator(mode="after")
    def _communication_needs_multi_worker(self):
        if self.communication != "auto" and self.strategy != "multi_worker":
            raise ValueError(f"communication: {self.communication!r} chooses the all-reduce between workers and "
                             f"applies only to strategy: multi_worker (got strategy: {self.strategy!r})")
        return self


class TrainingConfig(StrictModel):
    """Optimisation. ``clip_norm`` clips the combined gradient by global norm and
    ``task_clip_norm`` each task's gradient on the shared parameters before they are
    combined; ``gradient_centralization`` makes every kernel gradient zero-mean (Yong et
    al., ECCV 2020); ``groups`` give the shared trunk (``shared``) or a task its own
    optimizer or learning rate; ``stages`` freeze or slow groups for a while (e.g. the
    encoder for the first epoch); ``diagnostics_every`` measures the task gradients'
    cosine similarity every that many steps (null: never, unless the balancer needs them).
    ``learning_rate_schedule`` (``linear`` or ``cosine`` decay to 0 over the run, after a
    linear warm-up over ``warmup_fraction`` of the steps) scales every group's rate.
    """

    epochs: PositiveInt = 10
    batch_size: PositiveInt = 64
    learning_rate: float = Field(1e-3, gt=0.0)
    learning_rate_schedule: Literal["constant", "linear", "cosine"] = "constant"
    warmup_fraction: float = Field(0.0, ge=0.0, lt=1.0)
    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    weight_decay: float = Field(0.0, ge=0.0)
    clip_norm: float | None = Field(5.0, gt=0.0)
    seed: int = 42
    steps_per_execution: PositiveInt = 1
    early_stopping: EarlyStopping | None = Field(default_factory=EarlyStopping)
    balance: BalanceConfig = Field(default_factory=BalanceConfig)
    keep_checkpoints: PositiveInt = 2
    shuffle_buffer: PositiveInt = 100_000
    task_clip_norm: float | None = Field(None, gt=0.0)
    gradient_centralization: bool = False
    groups: dict[str, GroupConfig] = Field(default_factory=dict)
    stages: list[StageConfig] = Field(default_factory=list)
    diagnostics_every: PositiveInt | None = 100
    distribution: DistributionConfig = Field(default_factory=DistributionConfig)


class ValidationConfig(StrictModel):
    """The pipeline's data validation: check every split against a schema.

    ``schema_file``: a saved ``schema.json`` to check against (relative to the config file);
    without it the schema is inferred from the training split. ``on_anomaly``: ``fail``
    stops the pipeline on any error-level anomaly, ``warn`` reports and goes on.
    ``max_missing_rate_increase``: how much more often a column may be missing in another
    split than in training; ``max_skew``: the largest allowed L∞ distance between a
    categorical/label column's value frequencies in training and another split.
    ``max_new_category_rate``: the largest allowed share of a categorical input's values
    never seen in training; ``range_margin``: how far (as a fraction of the training
    range ``max - min``) a number may lie outside the training range before it is reported.
    """

    schema_file: str | None = None
    on_anomaly: Literal["fail", "warn"] = "fail"
    max_missing_rate_increase: float = Field(0.1, ge=0.0, le=1.0)
    max_skew: float = Field(0.3, gt=0.0, le=1.0)
    max_new_category_rate: float = Field(0.1, ge=0.0, le=1.0)
    range_margin: float = Field(0.1, ge=0.0)


class GateConfig(StrictModel):
    """When a newly trained model may be pushed (the "blessing").

    ``thresholds``: absolute bars per ``<task>.<metric>`` (``joint.accuracy`` too); a bar
    is a minimum, except for metrics where lower is better (``rmse``, ``mae``,
    ``log_loss``, ``loss``), where it is a maximum. ``tolerance``: how much worse than the
    version currently served a shared quality metric (not a loss) may be (absolute) before
    the new model is refused (see :mod:`mtlflow.pipeline.gate`).
    """

    thresholds: dict[str, float] = Field(default_factory=dict)
    tolerance: float = Field(0.01, ge=0.0)


class PipelineConfig(StrictModel):
    """``mtlflow pipeline``: validate → transform → train → evaluate → gate → push.

    ``slices``: columns of the evaluation data whose values the evaluation also reports
    metrics per slice (one slice per value); a slice with fewer than
    ``min_slice_examples`` examples is reported with its count only.
    """

    validation: ValidationConfig = Field(default_factory=ValidationConfig)
    gate: GateConfig = Field(default_factory=GateConfig)
    slices: list[str] = Field(default_factory=list)
    min_slice_examples: PositiveInt = 10


class ExportConfig(StrictModel):
    """Where ``mtlflow train`` exports (relative to the run dir; null to skip)."""

    base_dir: str | None = "export"


class Config(StrictModel):
    """A complete mtlflow run."""

    data: DataConfig
    inputs: InputsConfig
    encoder: EncoderConfig = Field(default_factory=EncoderConfig)
    sharing: SharingConfig = Field(default_factory=SharingConfig)
    tasks: list[TaskConfig] = Field(min_length=1)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    export: ExportConfig = Field(default_factory=ExportConfig)
    pipeline: PipelineConfig = Field(default_factory=PipelineConfig)
    profiles: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _cross_checks(self):
        seen: dict[str, int] = {}
        for i, task in enumerate(self.tasks):
            if task.name in seen:
                raise _KeyError(f"tasks[{i}].name", f"duplicate task name {task.name!r} (also tasks[{seen[task.name]}])")
            seen[task.name] = i
            if task.name == "joint":
                raise _KeyError(f"tasks[{i}].name", "'joint' is reserved for the joint metrics; pick another name")
            if task.type == "tagging" and self.inputs.text is None:
                raise _KeyError(f"tasks[{i}].type", "a tagging task needs a text input; set inputs.text")
        if self.encoder.type == "pretrained":
            if not self.encoder.path:
                raise _KeyError("encoder.path", "encoder type 'pretrained' needs path: the checkpoint directory "
                                "(config.json, model.safetensors, vocab.txt)")
            if self.inputs.text is None:
                raise _KeyError("encoder.type", "a pretrained encoder reads text; set inputs.text")
            if self.encoder.pooling == "max":
                raise _KeyError("encoder.pooling", "a pretrained encoder pools by 'mean' or 'cls', not 'max'")
            if self.sharing.type == "none":
                raise _KeyError("sharing.type", "'none' would copy the pretrained encoder once per task; "
                                "use hard (or a gated sharing type) with a pretrained encoder")
            if self.encoder.char_cnn is not None:
                raise _KeyError("encoder.char_cnn", "a pretrained encoder reads WordPiece pieces, not characters; "
                                "remove char_cnn or use type bilstm, bigru or transformer")
        elif self.encoder.path is not None:
            raise _KeyError("encoder.path", f"only used by encoder type 'pretrained' (type is {self.encoder.type!r})")
        elif self.encoder.pooling == "cls":
            raise _KeyError("encoder.pooling", "'cls' pooling needs encoder type 'pretrained'; use mean or max")
        for i, task in enumerate(self.tasks):
            for j, factor in enumerate(getattr(task, "product_of", None) or ()):
                other = next((t for t in self.tasks if t.name == factor), None)
                where = f"tasks[{i}].product_of[{j}]"
                if factor == task.name or other is None:
                    names = [t.name for t in self.tasks if t.name != task.name]
                    raise _KeyError(where, f"{factor!r} is not another task; tasks: {', '.join(names)}")
                if other.type != "binary" or other.product_of:
                    raise _KeyError(where, f"task {factor!r} must be a binary task with its own head "
                                    f"(it is {other.type}{' with product_of' if other.type == 'binary' else ''})")
            source = getattr(task, "condition_on", None)
            if source is not None:
                other = next((t for t in self.tasks if t.name == source), None)
                if source == task.name or other is None:
                    names = [t.name for t in self.tasks if t.name != task.name]
                    raise _KeyError(f"tasks[{i}].condition_on", f"{source!r} is not another task; tasks: {', '.join(names)}")
                if other.type != "multiclass":
                    names = [t.name for t in self.tasks if t.type == "multiclass"] or ["none in this config"]
                    raise _KeyError(f"tasks[{i}].condition_on", f"task {source!r} is {other.type}; a tagging task "
                                    f"conditions on a multiclass task's distribution (multiclass tasks: {', '.join(names)})")
            if getattr(task, "product_of", None) and task.tower:
                raise _KeyError(f"tasks[{i}].tower", "a product_of task has no head of its own, so no tower")
        groups = ["shared", *(t.name for t in self.tasks)]
        for key in self.training.groups:
            if key not in groups:
                raise _KeyError(f"training.groups.{key}", f"not a parameter group; groups: {', '.join(groups)}")
        for i, stage in enumerate(self.training.stages):
            for j, key in enumerate(stage.freeze):
                if key not in groups:
                    raise _KeyError(f"training.stages[{i}].freeze[{j}]", f"{key!r} is not a parameter group; groups: {', '.join(groups)}")
            for key in stage.learning_rate_multipliers:
                if key not in groups:
                    raise _KeyError(f"training.stages[{i}].learning_rate_multipliers.{key}",
                                    f"not a parameter group; groups: {', '.join(groups)}")
            if stage.epochs is None and stage.steps is None and i < len(self.training.stages) - 1:
                raise _KeyError(f"training.stages[{i}]", "only the last stage may omit epochs/steps")
        stop = self.training.early_stopping
        if stop is not None and stop.monitor != "loss":
            head, _, metric = stop.monitor.partition(".")
            task = next((t for t in self.tasks if t.name == head), None)
            allowed = ("accuracy", "loss") if head == "joint" else ((*task.metric_names, "loss") if task else ())
            if metric not in allowed:
                choices = ["loss", "joint.accuracy", "joint.loss"] + [f"{t.name}.{m}" for t in self.tasks for m in (*t.metric_names, "loss")]
                raise _KeyError(
                    "training.early_stopping.monitor",
                    f"{stop.monitor!r} is not a metric of this config; allowed: {', '.join(choices)}",
                )
        return self

    def task(self, name: str):
        return next(t for t in self.tasks if t.name == name)


class _KeyError(ValueError):
    """A cross-field check that knows the exact key path it is about."""

    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}")
        self.path = path


def parse_config(raw: Any, source: str = "config") -> Config:
    """Validates a parsed YAML/JSON object; raises :class:`ConfigError` naming the key path."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the config must be a mapping of sections, got {type(raw).__name__}")
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {_describe(exc, raw)}") from None


def apply_profile(raw: dict, profile: str | None, source: str = "config") -> dict:
    """``raw`` with ``profiles[profile]`` merged over it (mappings merge key by key, other
    values replace), e.g. ``profiles: {smoke: {training: {epochs: 1}, data: {max_rows: 300}}}``.
    """
    if profile is None:
        return raw
    profiles = raw.get("profiles") or {}
    if profile not in profiles:
        known = ", ".join(sorted(profiles)) or "none defined"
        raise ConfigError(f"{source}: profile {profile!r} is not in the config's profiles ({known})")
    override = profiles[profile]
    if not isinstance(override, dict):
        raise ConfigError(f"{source}: profiles.{profile}: must be a mapping of sections to override")
    return _deep_merge(raw, override)


def _deep_merge(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_config(path: str | Path, profile: str | None = None) -> Config:
    """Reads and validates a YAML config file, with ``profiles[profile]`` applied if given."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:  # a directory, no permission, ...: one line, not a traceback
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror or exc}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}{where}: invalid YAML: {problem}") from None
    if isinstance(raw, dict):
        raw = apply_profile(raw, profile, str(path))
    elif profile is not None:
        raise ConfigError(f"{path}: the config must be a mapping of sections, got {type(raw).__name__}")
    return parse_config(raw, str(path))


def resolve(config_dir: str | Path, path: str | None) -> Path | None:
    """A data path from the config, relative to the config file's folder."""
    if path is None:
        return None
    p = Path(path).expanduser()
    return p if p.is_absolute() else Path(config_dir) / p


def config_schema() -> dict:
    """JSON schema of the config (for editor completion and validation)."""
    schema = Config.model_json_schema()
    schema["title"] = "mtlflow config"
    return schema


# ---- error messages -----------------------------------------------------------------


def _describe(exc: ValidationError, raw: dict) -> str:
    errors = exc.errors(include_url=False)
    first = errors[0]
    message = _message(first, raw)
    more = len(errors) - 1
    return message + (f" (and {more} more error{'s' if more > 1 else ''})" if more else "")


def _message(error: dict, raw: dict) -> str:
    loc = _clean_loc(error["loc"], raw)
    path = _format_path(loc) or "<top level>"
    kind = error["type"]
    ctx_error = (error.get("ctx") or {}).get("error")
    if isinstance(ctx_error, _KeyError):
        return str(ctx_error)
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1], raw)
        return f"{path}: unknown key; allowed keys here: {', '.join(allowed)}"
    if kind == "missing":
        return f"{path}: required key is missing"
    if kind == "union_tag_invalid":
        tags = error["ctx"]["expected_tags"]
        return f"{path}.type: unknown task type {error['ctx']['tag']!r}; allowed: {tags.replace(chr(39), '')}"
    if kind == "union_tag_not_found":
        return f"{path}.type: required key is missing; allowed: multiclass, multilabel, binary, regression, tagging"
    text = error["msg"]
    if text.startswith("Value error, "):
        text = text[len("Value error, ") :]
    return f"{path}: {text} (got {_short(error.get('input'))})"


_UNION_BRANCHES = ("multiclass", "multilabel", "binary", "regression", "tagging", "float", "int", "str", "bool")


def _clean_loc(loc: tuple, raw: dict) -> tuple:
    """Drops pydantic's union-branch names from a location: (tasks, 2, tagging, x) → (tasks, 2, x)."""
    out: list = []
    node: Any = raw
    for part in loc:
        if isinstance(part, str) and (
            # a non-mapping has no keys, so a name under it is a union branch ("float")
            not isinstance(node, dict)
            or part not in node
            and (part in _UNION_BRANCHES or "[" in part or part.startswith("constrained-"))
        ):
            continue
        out.append(part)
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            node = None
    return tuple(out)


def _format_path(loc: tuple) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _allowed_keys(loc: tuple, raw: dict) -> list[str]:
    """Field names of the config section at ``loc`` (task sections by their ``type``)."""
    model: Any = Config
    node: Any = raw
    annotation: Any = None
    for part in loc:
        node = node[part] if isinstance(node, (dict, list)) else None
        if isinstance(part, int):  # a list entry: pick its model by the entry's own ``type``
            model = _section_model(annotation, node)
            if model is None:
                return []
            continue
        annotation = model.model_fields[part].annotation
        model = _section_model(annotation, node)
        if model is None:
            return []
    if model is Config.model_fields["tasks"].annotation or model is None:
        return []
    return list(model.model_fields)


def _section_model(annotation: Any, node: Any):
    candidates = [a for a in _flatten(annotation) if isinstance(a, type) and issubclass(a, StrictModel)]
    if len(candidates) > 1 and isinstance(node, dict):
        for cls in candidates:
            literal = cls.model_fields.get("type")
            if literal is not None and node.get("type") in get_args(literal.annotation):
                return cls
    return candidates[0] if candidates else None


def _flatten(annotation: Any) -> list:
    args = get_args(annotation)
    if not args:
        return [annotation]
    return [leaf for a in args for leaf in _flatten(a)]


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
