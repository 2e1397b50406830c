"""The YAML config, validated into typed objects; errors name the key path.

Sections: ``data``, ``inputs``, ``encoder``, ``sharing``, ``tasks``, ``training``,
``export``, ``pipeline``. Adding a task is adding an entry under ``tasks:``. ``mtlflow schema``
prints the JSON schema of :class:`Config` for editors.

This package imports neither TensorFlow nor Keras: every command validates its config
before TensorFlow loads. One module per section (``data.py``, ``encoder.py``, ...); the
checks that span sections are in ``checks.py``; reading YAML, profiles and ``--set``
overrides in ``loading.py``; the one-line error messages in ``messages.py``.
"""

from mtlflow.config.balance import (
    BALANCE_HYPERPARAMETERS,
    BALANCE_METHODS,
    AlignedMTLBalance,
    BalanceBase,
    BalanceConfig,
    CAGradBalance,
    DWABalance,
    FixedBalance,
    GradNormBalance,
    IMTLBalance,
    MGDABalance,
    NashMTLBalance,
    PCGradBalance,
    RLWBalance,
    UncertaintyBalance,
)
from mtlflow.config.base import KeyPathError, PositiveInt, Rate, StrictModel
from mtlflow.config.data import DataConfig
from mtlflow.config.distribution import DistributionConfig
from mtlflow.config.early_stopping import EarlyStopping
from mtlflow.config.encoder import BigramConfig, CharCNNConfig, EncoderConfig
from mtlflow.config.export import ExportConfig
from mtlflow.config.inputs import DenseInput, InputsConfig, TextInput
from mtlflow.config.interaction import JointInteractionConfig
from mtlflow.config.loading import apply_profile, config_schema, load_config, parse_config, resolve
from mtlflow.config.overrides import apply_overrides, parse_override
from mtlflow.config.pipeline import GateConfig, PipelineConfig, ValidationConfig
from mtlflow.config.root import Config
from mtlflow.config.schedule import GroupConfig, StageConfig
from mtlflow.config.sharing import (
    SHARING_TYPES,
    CGCSharing,
    CrossStitchSharing,
    HardSharing,
    MMoESharing,
    NoSharing,
    PLESharing,
    SharingBase,
    SharingConfig,
)
from mtlflow.config.task_spec import TaskName, TaskSpec
from mtlflow.config.task_types import (
    BinarySpec,
    MulticlassSpec,
    MultilabelSpec,
    RegressionSpec,
    TaggingSpec,
    TaskConfig,
)
from mtlflow.config.training import TrainingConfig

__all__ = [
    "BALANCE_HYPERPARAMETERS",
    "BALANCE_METHODS",
    "SHARING_TYPES",
    "AlignedMTLBalance",
    "BalanceBase",
    "BalanceConfig",
    "BinarySpec",
    "CAGradBalance",
    "CGCSharing",
    "BigramConfig",
    "CharCNNConfig",
    "Config",
    "CrossStitchSharing",
    "DWABalance",
    "DataConfig",
    "DenseInput",
    "DistributionConfig",
    "EarlyStopping",
    "EncoderConfig",
    "JointInteractionConfig",
    "ExportConfig",
    "FixedBalance",
    "GateConfig",
    "GradNormBalance",
    "GroupConfig",
    "HardSharing",
    "IMTLBalance",
    "InputsConfig",
    "KeyPathError",
    "MGDABalance",
    "MMoESharing",
    "MulticlassSpec",
    "MultilabelSpec",
    "NashMTLBalance",
    "NoSharing",
    "PCGradBalance",
    "PLESharing",
    "PipelineConfig",
    "PositiveInt",
    "RLWBalance",
    "Rate",
    "RegressionSpec",
    "SharingBase",
    "SharingConfig",
    "StageConfig",
    "StrictModel",
    "TaggingSpec",
    "TaskConfig",
    "TaskName",
    "TaskSpec",
    "TextInput",
    "TrainingConfig",
    "UncertaintyBalance",
    "ValidationConfig",
    "apply_overrides",
    "apply_profile",
    "config_schema",
    "load_config",
    "parse_config",
    "parse_override",
    "resolve",
]
