"""VAE Explorer core: models, objectives, training, checkpoints. Knows no UI."""
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from .notebook.widget import ExplorerWidget


def widget(model: LatentModel, images: Any = None, labels: Any = None, **kwargs: Any) -> "ExplorerWidget":
    """The explorer in a notebook (README, "In a notebook"): an anywidget with the latent map, the decoder sliders
    and the drawing pad running in the page; explorer.notebook.widget.widget has the options. Imported here, on
    first use, so `import explorer` needs no anywidget."""
    from .notebook.widget import widget as make

    return make(model, images, labels, **kwargs)


__all__ = [
    "Checkpoint", "CheckpointError", "DatasetRef", "load_checkpoint", "load_model", "read_metadata", "save_model", "ModelConfig",
    "ImageDataset", "load_dataset", "DeviceError", "available_devices", "resolve_device", "LatentModel",
    "build_model", "Terms", "objective", "TrainConfig", "Trainer", "TrainingDiverged",
    "estimate_log_likelihood", "log_likelihood", "from_torch", "from_onnx", "ImportedModel", "ConventionError",
    "widget",
]
__version__ = "0.1.0"
