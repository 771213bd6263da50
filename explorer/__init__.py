"""VAE Explorer core: models, objectives, training, checkpoints. Knows no UI."""
from .data import ImageDataset, load_dataset
from .data.ref import DatasetRef
from .evaluation import estimate_log_likelihood, log_likelihood
from .model.config import ModelConfig
from .model.conventions import ConventionError
from .model.foreign import from_onnx, from_torch
from .model.imported import ImportedModel
from .model.devices import DeviceError, available_devices, resolve_device
from .model.latent_model import LatentModel, build_model
from .model.objectives import Terms, objective
from .store.checkpoint import Checkpoint, CheckpointError, load_checkpoint, load_model, read_metadata, save_model
from .train.trainer import TrainConfig, Trainer, TrainingDiverged
from . import units  # the public explorer.units (README): explorer.units.model_unit

__all__ = [
    "Checkpoint", "CheckpointError", "DatasetRef", "load_checkpoint", "load_model", "read_metadata", "save_model", "ModelConfig",
    "ImageDataset", "load_dataset", "DeviceError", "available_devices", "resolve_device", "LatentModel",
    "build_model", "Terms", "objective", "TrainConfig", "Trainer", "TrainingDiverged",
    "estimate_log_likelihood", "log_likelihood", "from_torch", "from_onnx", "ImportedModel", "ConventionError",
]
__version__ = "0.1.0"
