"""The README's Python examples run as written."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text("utf-8"), flags=re.S)


def test_seed_model_example_runs():
    [block] = [b for b in _python_blocks() if "mtlflow.parse_config" in b]
    namespace: dict = {}
    exec(compile(block, "README.md", "exec"), namespace)
    model = namespace["model"]
    outputs = model({"dense": namespace["x"][:2]})
    assert set(outputs) == {"intent", "sentiment"}
    assert outputs["intent"].shape == (2, 10) and outputs["sentiment"].shape == (2, 3)
    # the same architecture as the hand-written Keras model: 768 → 128 → 64 → 10 and 3
    assert model.count_params() == 768 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10 + 64 * 3 + 3


def test_two_head_fit_example_runs():
    """The Python API section's opening: the classic two-head model trained by fit() with a balancer."""
    [block] = [b for b in _python_blocks() if "keras.Input((768,))" in b]
    namespace: dict = {}
    exec(compile(block, "README.md", "exec"), namespace)
    assert namespace["model"].count_params() == 768 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10 + 64 * 3 + 3
    history = namespace["history"].history
    assert len(history["loss"]) == 2 and all(-1 <= c <= 1 for c in history["cosine_intent_sentiment"])
    assert {"intent_weight", "sentiment_weight", "intent_loss", "sentiment_loss"} <= set(history)


def test_config_walk_through_is_the_demo_template():
    """The README's annotated config is exactly the config `mtlflow init customer_service` writes."""
    from importlib.resources import files

    import yaml

    from mtlflow.config import parse_config

    [block] = [b for b in re.findall(r"```yaml\n(.*?)```", README.read_text("utf-8"), flags=re.S) if b.startswith("data:")]
    template = files("mtlflow.templates").joinpath("customer_service.yaml").read_text("utf-8")
    assert yaml.safe_load(block) == yaml.safe_load(template)
    parse_config(yaml.safe_load(block))


def test_every_yaml_snippet_in_the_readme_is_a_valid_config_section():
    """Snippets (sharing, ESMM, balancing, training controls) parse when merged into the demo config."""
    import yaml

    from mtlflow.config import parse_config

    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text("utf-8"), flags=re.S)
    [base] = [yaml.safe_load(b) for b in blocks if b.startswith("data:")]
    snippets = [yaml.safe_load(b) for b in blocks if not b.startswith("data:")]
    assert len(snippets) >= 3
    for snippet in snippets:
        config = {**base, **snippet}
        if "inputs" in snippet:
            config["tasks"] = snippet.get("tasks", base["tasks"])
        parse_config(config)


def test_standalone_layer_example_builds():
    [block] = [b for b in _python_blocks() if "mtlflow.layers.MMoE" in b]
    namespace: dict = {}
    exec(compile(block, "README.md", "exec"), namespace)
    model = namespace["model"]
    assert [tuple(o.shape) for o in model.outputs] == [(None, 1), (None, 1)]
