"""Which variables the tasks share: the parameter groups of any Keras model.

A balancer combines the tasks' gradients on the *shared* parameters θs (the trunk every task
reads); the others (a task's tower and head) get ``∇ Σ_t w_t L_t``. Per-group optimizers and
staged freezing need the same split, one group per task. :func:`variable_groups` finds it:

* for a functional model, from its graph: the layers each task output depends on are found by
  walking the graph back from that output; a variable reached from two or more task outputs is
  shared, one reached from a single output is that task's;
* given ``shared`` (layers, variables, layer names or a variable-path prefix), for any model.
"""

from __future__ import annotations

from typing import Iterable

import keras


def variable_groups(model: keras.Model, tasks: list[str], shared=None) -> dict[str, list]:
    """``{"shared": [...], task: [...], ...}``: the trainable variables of ``model`` by group.

    Args:
      model: the Keras model whose outputs are ``{task: ...}``.
      tasks: the task (output) names.
      shared: None (functional models: found from the graph), a string (a prefix of the
        variables' paths, or of their tails after a ``/``: ``"trunk"`` matches
        ``"model/trunk_1/kernel"``), or a list of
        layers, variables and layer names.

    Returns:
      Every trainable variable of ``model`` exactly once. Without a functional graph, the
      variables that are not shared form one group, ``"tasks"``.

    Raises:
      ValueError: ``shared`` matches no variable, names an unknown layer, or is None on a
        model without a functional graph.
    """
    variables = list(model.trainable_variables)
    owners = _owners_from_graph(model, tasks)
    if shared is None:
        if owners is None:
            raise ValueError(
                f"Argument `shared` is needed for {type(model).__name__} {model.name!r}: it has no functional "
                "graph to find the layers the tasks share. Pass the shared layers, their names or a variable "
                "path prefix, e.g. shared=['trunk_1', 'trunk_2'] or shared='trunk'. Received: shared=None")
        shared_ids = {id(v) for v in variables if len(owners.get(id(v), ())) != 1}
    else:
        shared_ids = {id(v) for v in _resolve(model, variables, shared)}
    groups: dict[str, list] = {"shared": [v for v in variables if id(v) in shared_ids]}
    rest = [v for v in variables if id(v) not in shared_ids]
    if owners is None:
        groups["tasks"] = rest
        return groups
    for task in tasks:
        groups[task] = [v for v in rest if owners.get(id(v)) == {task}]
    # reached from no task, or from several although not declared shared: with the trunk
    groups["shared"] += [v for v in rest if len(owners.get(id(v), ())) != 1]
    return groups


def _resolve(model, variables: list, shared) -> list:
    """The variables ``shared`` designates (see :func:`variable_groups`)."""
    if isinstance(shared, str):
        chosen = [v for v in variables if _has_prefix(v.path, shared)]
        if not chosen:
            paths = ", ".join(v.path for v in variables[:6])
            raise ValueError(f"Argument `shared` is a variable path prefix that matches none of the model's "
                             f"variables ({paths}, ...). Received: shared={shared!r}")
        return chosen
    chosen = []
    by_name = {layer.name: layer for layer in _all_layers(model)}
    for item in shared if isinstance(shared, Iterable) else [shared]:
        if isinstance(item, str):
            if item not in by_name:
                raise ValueError(f"Argument `shared` names a layer the model does not have: {item!r}. "
                                 f"Its layers: {', '.join(sorted(by_name))}")
            item = by_name[item]
        chosen += list(item.trainable_variables) if isinstance(item, keras.layers.Layer) else [item]
    ids = {id(v) for v in variables}
    outside = [getattr(v, "path", v) for v in chosen if id(v) not in ids]
    if outside:
        raise ValueError(f"Argument `shared` holds variables that are not trainable variables of the model: {outside}")
    return chosen


def _has_prefix(path: str, prefix: str) -> bool:
    """``path`` (``"model/trunk/kernel"``) or a tail of it after a ``/`` (``"trunk/kernel"``)
    starts with ``prefix``: a subclassed model's variable paths begin with the model's name."""
    parts = path.split("/")
    return any("/".join(parts[i:]).startswith(prefix) for i in range(len(parts)))


def _all_layers(model) -> list:
    layers, queue = [], list(getattr(model, "layers", []))
    while queue:
        layer = queue.pop(0)
        layers.append(layer)
        queue += [sub for sub in getattr(layer, "layers", []) if sub not in layers]
    return layers


def _owners_from_graph(model, tasks: list[str]) -> dict[int, set] | None:
    """``{id(variable): {tasks whose output depends on it}}`` from a functional graph, or None."""
    try:
        outputs = model.output  # symbolic outputs: functional models only
    except (AttributeError, ValueError):
        return None
    if not isinstance(outputs, dict) or any(t not in outputs for t in tasks):
        return None
    owners: dict[int, set] = {}
    for task in tasks:
        for layer in _ancestors(outputs[task]):
            for variable in layer.trainable_variables:
                owners.setdefault(id(variable), set()).add(task)
    return owners


def _ancestors(tensor) -> list:
    """The operations (layers) a symbolic Keras tensor was computed by, found walking back."""
    operation, node_index, _ = tensor._keras_history
    seen, found = set(), []
    queue = [operation._inbound_nodes[node_index]]
    while queue:
        node = queue.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node.operation, keras.layers.Layer):
            found.append(node.operation)
        queue += list(node.parent_nodes)
    return found
