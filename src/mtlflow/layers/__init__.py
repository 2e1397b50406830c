"""Sharing architectures as Keras 3 layers: one input tensor → one tensor per task.

Every layer takes ``num_tasks`` first and maps ``[batch, dim]`` or ``[batch, time, dim]``
to a list of ``num_tasks`` tensors. Gated layers (``gated = True``: MMoE, CGC, PLE) can
also return their gates (``return_gates=True``), labelled by ``expert_names(task)``::

    import mtlflow.layers
    outputs = mtlflow.layers.MMoE(2, num_experts=4)(keras.ops.ones((32, 8)))

Joint intent/slot interaction layers (``encoder.interaction``): ``TokenIntentVoting``
(Stack-Propagation), ``LabelAttention`` and ``CoInteractiveAttention`` (Co-Interactive
Transformer), ``SFIDNetwork`` (SF-ID network).
"""

from mtlflow.layers.cgc import CGC
from mtlflow.layers.co_interactive import CoInteractiveAttention
from mtlflow.layers.crf import CRF
from mtlflow.layers.cross_stitch import CrossStitch
from mtlflow.layers.label_attention import LabelAttention
from mtlflow.layers.mmoe import MMoE
from mtlflow.layers.ple import PLE
from mtlflow.layers.separate_bottom import SeparateBottom
from mtlflow.layers.sf_id import SFIDNetwork
from mtlflow.layers.shared_bottom import SharedBottom
from mtlflow.layers.token_intent import TokenIntentVoting

__all__ = [
    "CGC",
    "CoInteractiveAttention",
    "CRF",
    "CrossStitch",
    "LabelAttention",
    "MMoE",
    "PLE",
    "SFIDNetwork",
    "SeparateBottom",
    "SharedBottom",
    "TokenIntentVoting",
]
