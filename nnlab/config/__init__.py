"""The experiment config: YAML -> validated, frozen ``Config`` -> YAML.

    from nnlab.config import load_config, dump_config
    cfg = load_config("configs/quickstart.yaml", ["optimizer.name=adam"])
    cfg.model.sizes, cfg.optimizer.params, hidden_activations(cfg)

Every mistake in a config becomes one line of a ``UserError``:
``<file>: <dotted.key.path>: <what was found>; <what is allowed>``.
Where the user says nothing, the defaults are Nielsen's network2 (ch. 5).

Modules: ``schema`` (the sections), ``parts`` (named parts and their
hyperparameters, as the engine's registries declare them), ``checks`` (across sections and against the data),
``values`` (single-value checks), ``messages`` (pydantic errors -> lines),
``overrides`` (``--set key.path=value``), ``load`` (YAML in and out).
"""

from nnlab.config.checks import validate_against_data
from nnlab.config.load import config_to_dict, dump_config, load_config, read_config_file, validate
from nnlab.config.overrides import apply_overrides
from nnlab.config.parts import ActivationSpec, InitSpec, PartSpec
from nnlab.config.schema import (
    Config,
    DataConfig,
    InitConfig,
    InstrumentsConfig,
    ModelConfig,
    OptimizerConfig,
    OutputConfig,
    RegularizationConfig,
    TrainingConfig,
    dropout_rates,
    hidden_activations,
)

__all__ = [
    "ActivationSpec",
    "Config",
    "DataConfig",
    "InitConfig",
    "InitSpec",
    "InstrumentsConfig",
    "ModelConfig",
    "OptimizerConfig",
    "OutputConfig",
    "PartSpec",
    "RegularizationConfig",
    "TrainingConfig",
    "apply_overrides",
    "config_to_dict",
    "dropout_rates",
    "dump_config",
    "hidden_activations",
    "load_config",
    "read_config_file",
    "validate",
    "validate_against_data",
]
