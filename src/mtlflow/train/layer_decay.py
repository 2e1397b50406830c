"""Layer-wise learning-rate decay for a fine-tuned pretrained encoder.

With decay ``d`` and a base rate ``η``, the task heads (and every layer that is not part
of the pretrained encoder) learn at ``η``, the encoder's top transformer block at ``η·d``,
the block below at ``η·d²``, and so on down to the embeddings at ``η·d^(L+1)`` for ``L``
blocks. Lower layers hold more general features, so fine-tuning moves them less
(discriminative fine-tuning, Howard & Ruder, ACL 2018; the decay per layer of ELECTRA,
Clark et al., ICLR 2020).

Each depth becomes a parameter group of its own, ``<group>.depth<k>`` under the group
that held it (``shared`` with hard sharing), with its own optimizer; it follows that
group's ``training.groups`` settings and the stages' freezing and multipliers.

Example::

    training:
      learning_rate: 3.0e-4
      layer_decay: 0.8   # 6 blocks: top block 2.4e-4 … embeddings 6.3e-5
"""

from __future__ import annotations

import keras

from mtlflow.errors import ConfigError
from mtlflow.model.pretrained import PretrainedEncoder


def pretrained_encoders(model: keras.Model) -> list[PretrainedEncoder]:
    """Every :class:`PretrainedEncoder` inside ``model``."""
    return [layer for layer in model._flatten_layers(include_self=False, recursive=True)
            if isinstance(layer, PretrainedEncoder)]


def layer_decay_groups(model: keras.Model, groups: dict[str, list], decay: float
                       ) -> tuple[dict[str, list], dict[str, tuple[str, float]]]:
    """Splits the pretrained encoders' variables into one group per depth.

    Args:
      model: the model whose ``groups`` these are.
      groups: ``{"shared": [variables], task: [variables], ...}``.
      decay: ``d`` in (0, 1]: the rate factor per layer, counted down from the heads.

    Returns:
      ``(groups, scales)``: the groups with each encoder variable moved to
      ``"<group>.depth<k>"`` (``k`` = 0 for the embeddings, ``i + 1`` for block ``i``), and
      ``scales[name] = (group it came from, d^(L + 1 − k))`` for each new group.

    Raises:
      ConfigError: the model has no pretrained encoder.
    """
    encoders = pretrained_encoders(model)
    if not encoders:
        raise ConfigError("training.layer_decay: decays the learning rate through a pretrained encoder's layers, "
                          "and this model has none (encoder.type is not 'pretrained'); remove training.layer_decay")
    depth_of = {id(v): (depth, encoder.num_blocks) for encoder in encoders
                for v, depth in encoder.variable_depths()}
    out: dict[str, list] = {}
    scales: dict[str, tuple[str, float]] = {}
    for name, variables in groups.items():
        out[name] = [v for v in variables if id(v) not in depth_of]
        for v in variables:
            if id(v) in depth_of:
                depth, blocks = depth_of[id(v)]
                sub = f"{name}.depth{depth}"
                out.setdefault(sub, []).append(v)
                scales[sub] = (name, decay ** (blocks + 1 - depth))
    return out, scales
