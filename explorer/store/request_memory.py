"""What one request of the app would allocate, estimated before it runs, and refused over the server's budget
(issue 25: a budget for every request that allocates): an uploaded model built, a data set encoded, a map
projected. Each estimate is arithmetic on sizes with its factor named; tests/test_request_memory.py holds each
against an allocation measured on one case."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..latent.projection import TSNEProjection
from ..model.config import IMPORTED, ModelConfig
from ..model.latent_model import LatentModel
from ..train.memory import BUDGET_ENV, MB, BYTES, OverBudget, layer_outputs
from .header import read_header

# Factors, each checked against a measured peak (tests/test_request_memory.py):
MODEL_COPIES = 5  # besides the file's tensors as read: the model's weights, a copy while the file is unpacked,
#                   the page's blob (packed from a copy of its own), and one for the allocator's slack
ENCODING_COPIES = 6  # means and stds as the batches' pieces (the means keep the encoder's whole output: 3) and
#                      joined (2), and one for the allocator's slack
ACTIVATION_COPIES = 2  # a batch's layer outputs and the temporaries of its posterior
ENCODE_BATCH = 1000  # explorer.model.encoding.encode's
PCA_COPIES = 3  # float64 codes (8 bytes): sklearn's input copy, its centred copy, transform's centred copy
TSNE_COPIES = 3  # float64 codes: the input, and the PCA that initialises t-SNE (its input and centred copies)
NEIGHBOUR_BYTES = 80  # per neighbour: distance and index (16), the joint P as built, symmetrised and normalised (64)
UMAP_NEIGHBOURS = 15  # umap-learn's n_neighbors


@dataclass(frozen=True)
class RequestEstimate:
    what: str  # "building this model", "encoding 10,000 images", ...
    bytes: int
    detail: str  # what was counted, in words

    def describe(self) -> str:
        return f"about {self.bytes / MB:,.0f} MB ({self.detail})"


def check_request(estimate: RequestEstimate, budget_mb: int) -> None:
    """OverBudget, with the estimate and the budget in its message, when the request would not fit."""
    if estimate.bytes > budget_mb * MB:
        raise OverBudget(f"{estimate.what} would need {estimate.describe()}, over this server's budget of "
                         f"{budget_mb:,} MB ({BUDGET_ENV}, as for a training)")


def upload_estimate(data: bytes, name: str) -> RequestEstimate:
    """Building the model in a checkpoint's bytes (a CheckpointError for a header that cannot be read)."""
    header, _, config = read_header(data, name)
    stored = sum(v["data_offsets"][1] - v["data_offsets"][0] for k, v in header.items() if k != "__metadata__")
    # an imported model's weights are in its ONNX graphs: their bytes stand for the weights
    weights = stored if config.arch == IMPORTED else BYTES * n_parameters(config)
    return RequestEstimate("building this model", stored + MODEL_COPIES * weights,
                           f"{stored / MB:,.0f} MB of tensors read from the file, then the model's "
                           f"{weights / MB:,.0f} MB of weights {MODEL_COPIES} times: the model, its copies while "
                           "it is loaded and the page's")


def n_parameters(config: ModelConfig) -> int:
    """The model's parameter count, from its config alone (built on the meta device: no memory, any size)."""
    with torch.device("meta"):
        return sum(p.numel() for p in LatentModel(config).parameters())


def encoding_estimate(model: LatentModel, n: int) -> RequestEstimate:
    """Encoding n images to their posterior means and standard deviations (explorer.model.encoding.encode)."""
    d, batch = model.latent_dim, min(n, ENCODE_BATCH)
    codes = ENCODING_COPIES * n * d * BYTES
    try:
        per_image = layer_outputs(model.encoder, tuple(model.config.image_shape))
    except (AttributeError, TypeError, ValueError):  # an imported model's graph: count its input and its output
        per_image = math.prod(model.config.image_shape) + 2 * d
    acts = ACTIVATION_COPIES * batch * per_image * BYTES
    return RequestEstimate(f"encoding {n:,} images", codes + acts,
                           f"{n:,} means and standard deviations of {d:,} numbers, held {ENCODING_COPIES // 2} times "
                           f"over, and a batch of {batch:,} images' layer outputs")


def projection_estimate(method: str, n: int, d: int) -> RequestEstimate:
    """Fitting a 2-D map of n codes of d dimensions (explorer.store.map_cache.cached_projection)."""
    ours = n * d * BYTES  # cached_projection's own copy of the shared codes
    if method == "pca":
        total, detail = ours + PCA_COPIES * n * d * 8, f"the {n:,} x {d:,} codes copied {PCA_COPIES + 1} times"
    elif method in ("tsne", "umap"):
        k = UMAP_NEIGHBOURS if method == "umap" else min(n - 1, int(3 * TSNEProjection.perplexity(n) + 1))
        total = ours + TSNE_COPIES * n * d * 8 + n * max(k, 1) * NEIGHBOUR_BYTES
        detail = f"the {n:,} x {d:,} codes copied {TSNE_COPIES + 1} times, and {k} neighbours of each point"
    else:  # the latent axes: the codes themselves
        total, detail = ours + 2 * n * d * 8, f"the {n:,} x {d:,} codes"
    label = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}.get(method, "the latent axes")
    return RequestEstimate(f"a {label} map of {n:,} points", total, detail)
