"""Each task owns exactly the layers it builds; names that would collide are refused by the config."""

from __future__ import annotations

import pytest

from mtlflow.config import parse_config
from mtlflow.errors import ConfigError


def config(tasks, sharing="hard"):
    return {"data": {"train": "unused"}, "inputs": {"numeric": ["a", "b"]}, "encoder": {"mlp": [8]},
            "sharing": {"type": sharing}, "tasks": tasks}


@pytest.mark.parametrize("sharing", ["hard", "mmoe", "none"])
def test_a_task_whose_name_extends_another_owns_its_own_tower(sharing):
    from mtlflow.data.vocabulary import Vocabularies
    from mtlflow.model.build import build_model, task_variables
    from mtlflow.tasks import create_task

    cfg = parse_config(config([{"name": "intent", "type": "binary", "tower": [4]},
                               {"name": "intent_type", "type": "binary", "tower": [6, 5]}], sharing))
    tasks = {s.name: create_task(s) for s in cfg.tasks}
    vocab = Vocabularies()
    model = build_model(cfg, vocab, tasks)
    groups = task_variables(model, tasks)
    kernels = {name: sorted(tuple(v.shape) for v in variables if v.name == "kernel")
               for name, variables in groups.items()}
    if sharing == "none":  # each task's own encoder (mlp 2 → 8) is its own, then its tower and head
        assert kernels["intent"] == [(2, 8), (4, 1), (8, 4)]
        assert kernels["intent_type"] == [(2, 8), (5, 1), (6, 5), (8, 6)]
        assert kernels["shared"] == []
    else:
        assert kernels["intent"] == sorted([(4, 1), (kernels["intent"][-1][0], 4)])
        assert sorted(s[1] for s in kernels["intent_type"]) == [1, 5, 6]
        assert len(kernels["intent"]) == 2 and len(kernels["intent_type"]) == 3
        assert (2, 8) in kernels["shared"]
    every = [id(v) for variables in groups.values() for v in variables]
    assert len(every) == len(set(every)) == len(model.trainable_variables)


@pytest.mark.parametrize("name, fragment", [
    ("shared", "'shared' is the parameter group of the shared trunk"),
    ("numeric", "'numeric' is the name of a model input"),
    ("intent_tower_0", "'intent_tower_0' is the name of a layer of task 'intent'"),
    ("shared_text_encoder", "'shared_text_encoder' is the name of a layer of the shared trunk"),
])
def test_task_names_that_would_collide_are_refused(name, fragment):
    with pytest.raises(ConfigError) as info:
        parse_config(config([{"name": "intent", "type": "binary"}, {"name": name, "type": "binary"}]))
    assert str(info.value).startswith("config: tasks[1].name: ") and fragment in str(info.value)


def test_a_task_named_like_another_with_a_suffix_is_fine():
    parse_config(config([{"name": "intent", "type": "binary"}, {"name": "intent_type", "type": "binary"},
                         {"name": "intent_towers", "type": "binary"}]))
