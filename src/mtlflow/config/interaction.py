"""``encoder.interaction``: joint-NLU interaction between an intent and a slot task."""

from __future__ import annotations

from typing import Literal

from mtlflow.config.base import PositiveInt, Rate, StrictModel


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
