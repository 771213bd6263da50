"""VAE Explorer core: models, objectives, training, checkpoints. Knows no UI."""
from .checkpoint import Checkpoint, CheckpointError, load_checkpoint, load_model, read_metadata, save_model
from .config import ModelConfig
from .data import ImageDataset, load_dataset
from .data.ref import DatasetRef
from .devices import DeviceError, available_devices, resolve_device
from .evaluation import estimate_log_likelihood, log_likelihood
from .model import LatentModel, build_model
from .objectives import Terms, objective
from .trainer import TrainConfig, Trainer, TrainingDiverged

__all__ = [
    "Checkpoint", "CheckpointError", "DatasetRef", "load_checkpoint", "load_model", "read_metadata", "save_model", "ModelConfig",
    "ImageDataset", "load_dataset", "DeviceError", "available_devices", "resolve_device", "LatentModel",
    "build_model", "Terms", "objective", "TrainConfig", "Trainer", "TrainingDiverged",
    "estimate_log_likelihood", "log_likelihood",
]
__version__ = "0.1.0"
