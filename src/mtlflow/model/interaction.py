"""Joint NLU interaction modules (``encoder.interaction``) wired between encoder and heads.

:func:`build_interaction` builds the intent and slot outputs of a joint model from the
shared encoder's token states, instead of the plain ``tower + head`` per task:

* ``stack_propagation`` (Qin et al., EMNLP 2019)::

      h ─► TokenIntentVoting (layer "<intent>") ─► intent output (vote)
      │         └─ p_t (per-token intent) ─┐
      └──────────────────────────────────► [h_t ; p_t] ─► LSTM ("<slots>_decoder") ─► slot tower + head

* ``co_interactive`` (Qin et al., ICASSP 2021)::

      h ─► LabelAttention ("<intent>_label_attention") ─► H_I ─┐  CoInteractiveAttention × layers
      h ─► LabelAttention ("<slots>_label_attention")  ─► H_S ─┘  ("shared_co_interactive_<i>")
      H_I'' ─► masked max-pool ─► intent tower + head;   H_S'' ─► slot tower + head

* ``sf_id`` (E et al., ACL 2019)::

      h ─► SFIDNetwork ("shared_sf_id") ─► r_inte + mean h ─► intent tower + head
                                        └► h_i + r_slot_i ─► slot tower + head

Layer names follow the model's ownership rule (``<task>`` or ``<task>_*`` belong to the
task, the rest is shared), so optimizer groups and balancers see the right variables.
"""

from __future__ import annotations

import keras
from keras import ops

from mtlflow.errors import ConfigError
from mtlflow.model.encoders import masked_pool


@keras.saving.register_keras_serializable(package="mtlflow")
class TokenMask(keras.layers.Layer):
    """The real-token mask ``[batch, time]`` from token ids (``!= 0``) or word starts (``> 0``)."""

    def call(self, ids):
        return ops.greater(ops.cast(ids, "int32"), 0)

    def compute_output_spec(self, ids):
        return keras.KerasTensor(ids.shape, dtype="bool")


@keras.saving.register_keras_serializable(package="mtlflow")
class MaskedMaxPool(keras.layers.Layer):
    """Max over the real tokens: ``[batch, time, d]``, mask → ``[batch, d]``."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, states, mask):
        return masked_pool(states, mask, "max")

    def compute_mask(self, *args, **kwargs):
        return None

    def compute_output_shape(self, states_shape, mask_shape=None):
        return (states_shape[0], states_shape[-1])


def check_interaction(config, tasks: dict) -> None:
    """Config mistakes of ``encoder.interaction``, each naming its key and the fix."""
    spec = config.encoder.interaction
    key = "encoder.interaction"
    if config.inputs.text is None:
        raise ConfigError(f"{key}: needs a text input (inputs.text); joint intent/slot models read token states")
    if config.sharing.type != "hard":
        raise ConfigError(f"{key}: needs sharing.type: hard (one encoder both tasks read); got {config.sharing.type!r}")
    for field, wanted in (("intent", "multiclass"), ("slots", "tagging")):
        name = getattr(spec, field)
        if name not in tasks:
            raise ConfigError(f"{key}.{field}: no task named {name!r} (tasks: {', '.join(tasks)}); "
                              f"name the {wanted} task")
        if tasks[name].type_name != wanted:
            raise ConfigError(f"{key}.{field}: task {name!r} is {tasks[name].type_name}; it must be a {wanted} task")
    if getattr(tasks[spec.slots].spec, "condition_on", None):
        raise ConfigError(f"{key}: task {spec.slots!r} also has condition_on; the interaction already feeds the "
                          f"intent to the slots, so remove tasks.{spec.slots}.condition_on")


def build_interaction(config, tasks: dict, inputs: dict, tokens) -> dict:
    """``{intent: output, slots: output}`` of the interaction ``config.encoder.interaction`` names."""
    from mtlflow.layers import CoInteractiveAttention, LabelAttention, SFIDNetwork, TokenIntentVoting

    check_interaction(config, tasks)
    spec = config.encoder.interaction
    intent, slots = tasks[spec.intent], tasks[spec.slots]
    mask = TokenMask(name="shared_token_mask")(inputs["word_starts"] if "word_starts" in inputs else inputs["token_ids"])
    if spec.type == "stack_propagation":
        intent_output, token_intents = TokenIntentVoting(len(intent.labels), units=spec.units, dropout=spec.dropout,
                                                         name=intent.name)(tokens, mask)
        x = keras.layers.Concatenate(name=f"{slots.name}_intent_feed")([tokens, token_intents])
        if spec.dropout:
            x = keras.layers.Dropout(spec.dropout, name=f"{slots.name}_decoder_dropout")(x)
        x = keras.layers.LSTM(spec.units, return_sequences=True, name=f"{slots.name}_decoder")(x, mask=mask)
        return {intent.name: intent_output, slots.name: slots.build_head(x)}
    if spec.type == "sf_id":
        intent_vector, slot_states = SFIDNetwork(spec.layers, name="shared_sf_id")(tokens, mask)
        return {intent.name: intent.build_head(intent_vector), slots.name: slots.build_head(slot_states)}
    intent_states = LabelAttention(len(intent.labels), name=f"{intent.name}_label_attention")(tokens)
    slot_states = LabelAttention(len(slots.labels), name=f"{slots.name}_label_attention")(tokens)
    for i in range(spec.layers):
        intent_states, slot_states = CoInteractiveAttention(
            ff_units=spec.units, dropout=spec.dropout, name=f"shared_co_interactive_{i}")(intent_states, slot_states, mask)
    pooled = MaskedMaxPool(name=f"{intent.name}_pool")(intent_states, mask)
    return {intent.name: intent.build_head(pooled), slots.name: slots.build_head(slot_states)}
