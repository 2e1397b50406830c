"""A config's model with untrained weights, exported as ``mtlflow train`` would export it.

For tests about what a model *accepts* (shapes, finite outputs, export parity), not what it
learns: the label inventories and vocabularies are fitted on the config's training split as in
training, the model is built with its seeded initial weights, and no training step runs, which
saves the cost of tracing a training step per model.
"""

from __future__ import annotations

from pathlib import Path


def untrained_run(config_path: str | Path, directory: str | Path):
    """A :class:`mtlflow.run.Run` of the config's model, fitted on its data but not trained."""
    from mtlflow.config import load_config
    from mtlflow.data.vocabulary import fit_vocabularies
    from mtlflow.model.build import build_model
    from mtlflow.model.preprocessor import Preprocessor
    from mtlflow.run import Run, absolute_config, read_splits
    from mtlflow.tasks import create_task

    config_path = Path(config_path)
    config = absolute_config(load_config(config_path), config_path.parent)
    tasks = {spec.name: create_task(spec) for spec in config.tasks}
    train_split, _, _ = read_splits(config, tasks)
    vocab = fit_vocabularies(train_split.features, config.inputs)
    model = build_model(config, vocab, tasks)
    return Run(Path(directory), config, tasks, vocab, model, Preprocessor(config.inputs, vocab, config.encoder))


def export_untrained(config_path: str | Path, directory: str | Path):
    """``(run, export_dir, module)``: :func:`untrained_run` exported to ``directory/export/1``.

    ``module`` is the exported :class:`~mtlflow.export.inference.InferenceModule`, its
    ``serve`` already traced: calling it in process costs no second trace of the model.
    """
    from mtlflow.export.saved_model import export_saved_model

    run = untrained_run(config_path, directory)
    module = run.inference()
    return run, export_saved_model(module, Path(directory) / "export", 1), module
