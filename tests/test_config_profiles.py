import yaml, pytest
from mtlflow.config import load_config
from mtlflow.errors import ConfigError

def test_profile(tmp_path):
    raw = {"data": {"train": "t.jsonl"}, "inputs": {"text": {}}, "tasks": [{"name": "a", "type": "multiclass"}],
           "training": {"epochs": 9, "batch_size": 8},
           "profiles": {"smoke": {"training": {"epochs": 1}, "data": {"max_rows": 50}}}}
    p = tmp_path / "c.yaml"; p.write_text(yaml.safe_dump(raw))
    c = load_config(p, "smoke")
    assert c.training.epochs == 1 and c.training.batch_size == 8 and c.data.max_rows == 50
    assert load_config(p).training.epochs == 9
    with pytest.raises(ConfigError, match="profile 'fast' is not in the config's profiles \\(smoke\\)"):
        load_config(p, "fast")
    raw["profiles"]["smoke"]["training"]["epoch"] = 1
    p.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match="training.epoch"):
        load_config(p, "smoke")
