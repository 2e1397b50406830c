"""Non-finite losses stop training with the task's name; the model also trains with Keras fit."""

import json

import keras
import pytest

from conftest import synthetic_rows, write_jsonl, write_synthetic_project
from mtlflow.errors import TrainingError
from mtlflow.run import train


def test_non_finite_loss_names_the_task_and_keeps_the_last_good_checkpoint(tmp_path):
    config = write_synthetic_project(tmp_path / "p", n_train=120, epochs=2)
    train(config.parent / "config.yaml", tmp_path / "run", verbose=False, export=False)
    # same run, one more epoch, on data whose regression target overflows float32
    rows = synthetic_rows(120, seed=1)
    for row in rows:
        row["score"] = 3e38
    write_jsonl(rows, config.parent / "train.jsonl")
    text = config.read_text().replace("epochs: 2", "epochs: 3")
    config.write_text(text, "utf-8")
    with pytest.raises(TrainingError) as error:
        train(config, tmp_path / "run", resume=True, verbose=False, export=False)
    assert "task 'score'" in str(error.value) and "epoch 3" in str(error.value)
    last = sorted(p.name for p in (tmp_path / "run" / "checkpoints" / "last").glob("ckpt-*.index"))
    assert last[-1] == "ckpt-2.index"


def test_the_model_also_trains_with_keras_fit(tmp_path):
    from mtlflow.config import load_config
    from mtlflow.data.dataset import SplitData
    from mtlflow.data.encode import encode_table, fit_tasks
    from mtlflow.data.readers import read_table
    from mtlflow.data.vocabulary import fit_vocabularies
    from mtlflow.model.build import build_model
    from mtlflow.model.preprocessor import Preprocessor
    from mtlflow.run import absolute_config
    from mtlflow.tasks import create_task

    path = write_synthetic_project(tmp_path / "p", n_train=300)
    config = absolute_config(load_config(path), path.parent)
    tasks = {s.name: create_task(s) for s in config.tasks}
    table = read_table(config.data.train)
    fit_tasks(table, config, tasks)
    split = encode_table(table, config, tasks, "train")
    vocab = fit_vocabularies(split.features, config.inputs)
    model = build_model(config, vocab, tasks)
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss={n: t.keras_loss() for n, t in tasks.items()},
        loss_weights={n: t.spec.weight for n, t in tasks.items()},
    )
    data = SplitData(split, Preprocessor(config.inputs, vocab), tasks)
    history = model.fit(data.batches(32, shuffle_seed=0), epochs=8, verbose=0)
    losses = history.history["topic_loss"]
    assert losses[-1] < 0.3 * losses[0]


def test_the_step_is_traced_once_despite_varying_lengths(tmp_path):
    """Bucketed batches of different lengths reuse each compiled training function (one trace each)."""
    from mtlflow.config import load_config
    from mtlflow.run import absolute_config

    path = write_synthetic_project(tmp_path / "p", n_train=200, epochs=2)
    text = path.read_text().replace("test: test.jsonl", "test: test.jsonl\n  bucket_boundaries: [6, 9, 12]")
    path.write_text(text, "utf-8")
    run, _ = train(path, tmp_path / "run", verbose=False, export=False)
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert len(history["epochs"]) == 2
    assert absolute_config(load_config(path), path.parent).data.bucket_boundaries == [6, 9, 12]
    functions = run.trainer.compiled_functions()
    assert functions and all(f.experimental_get_tracing_count() == 1 for f in functions.values())


def test_a_monitor_that_never_gives_a_number_still_leaves_best_weights(tmp_path):
    """Validation without any `flag` label: flag.auc is NaN every epoch, yet the run loads."""
    from mtlflow.run import load_run

    path = write_synthetic_project(tmp_path / "p", n_train=120, epochs=2)
    rows = synthetic_rows(60, seed=5)
    for row in rows:
        row["flag"] = None
    write_jsonl(rows, path.parent / "validation.jsonl")
    text = path.read_text().replace("early_stopping: null", "early_stopping: {monitor: flag.auc, patience: 5}")
    path.write_text(text, "utf-8")
    train(path, tmp_path / "run", verbose=False, export=False)
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert history["best_epoch"] is None and len(history["epochs"]) == 2
    assert load_run(tmp_path / "run").model is not None
