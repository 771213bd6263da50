"""explorer.from_torch and .vaex files: an imported model reads its networks exactly as their own code does,
and a .vaex round trip (torch -> ONNX -> onnxruntime) keeps encode, decode and log p(x) to the issue's
tolerances (1e-5 on outputs, 1e-4 nats on the importance-sampled log p(x), same seed)."""
from __future__ import annotations

import pytest
import torch

import explorer
from explorer.data import load_dataset
from explorer.evaluation import estimate_log_likelihood
from explorer.model.imported import ImportedModel
from tests.foreign_models import examples_vae, keras_style_vae


@pytest.fixture(scope="module")
def digits() -> torch.Tensor:
    return load_dataset("mnist", test_only=True).test_x[:24]


def _examples() -> tuple[torch.nn.Module, ImportedModel]:
    vae = examples_vae()
    return vae, explorer.from_torch(vae, image_shape=(1, 28, 28), encoder_output="mean_logvar",
                                    likelihood="bernoulli_probs", dataset="mnist")


def _keras() -> tuple[tuple[torch.nn.Module, torch.nn.Module], ImportedModel]:
    enc, dec = keras_style_vae()
    return (enc, dec), explorer.from_torch(enc, dec, image_shape=(1, 28, 28), encoder_output="mean_logvar",
                                           likelihood="bernoulli_probs")


def test_examples_vae_round_trip(tmp_path, digits):
    vae, wrapped = _examples()
    loaded = explorer.load_model(explorer.save_model(wrapped, tmp_path / "ex.vaex"))
    assert isinstance(loaded, ImportedModel) and loaded.latent_dim == 20 and loaded.card.source == "torch"
    with torch.no_grad():
        mu, logvar = vae.encode(digits)
        q = loaded.encode(digits)
        torch.testing.assert_close(q.mean, mu, atol=1e-5, rtol=0)
        torch.testing.assert_close(q.stddev, torch.exp(0.5 * logvar), atol=1e-5, rtol=0)
        z = torch.randn(16, 20, generator=torch.Generator().manual_seed(1))
        torch.testing.assert_close(loaded.decode(z).mean.reshape(16, 784), vae.decode(z), atol=1e-5, rtol=0)
    a = estimate_log_likelihood(wrapped, digits, 400, seed=7)
    b = estimate_log_likelihood(loaded, digits, 400, seed=7)
    assert torch.isfinite(a).all() and (a - b).abs().max() <= 1e-4


def test_keras_style_conv_round_trip(tmp_path, digits):
    (enc, dec), wrapped = _keras()
    loaded = explorer.load_model(explorer.save_model(wrapped, tmp_path / "k.vaex"))
    with torch.no_grad():
        mu, logvar = enc(digits)
        torch.testing.assert_close(loaded.encode(digits).mean, mu, atol=1e-5, rtol=0)
        torch.testing.assert_close(loaded.encode(digits).stddev, torch.exp(0.5 * logvar), atol=1e-5, rtol=0)
        z = torch.randn(16, 2, generator=torch.Generator().manual_seed(2))
        torch.testing.assert_close(loaded.decode(z).mean, dec(z), atol=1e-5, rtol=0)
    a = estimate_log_likelihood(wrapped, digits, 400, seed=3)
    b = estimate_log_likelihood(loaded, digits, 400, seed=3)
    assert (a - b).abs().max() <= 1e-4


def test_bernoulli_probs_is_minus_binary_cross_entropy(digits):
    """The example's own reconstruction loss is the decoder's -log p(x|z) (each log clamped at -100)."""
    vae, m = _examples()
    with torch.no_grad():
        z = vae.encode(digits)[0]
        bce = torch.nn.functional.binary_cross_entropy(vae.decode(z), digits.view(-1, 784), reduction="none").sum(1)
        torch.testing.assert_close(m.decode(z).log_prob(digits), -bce, atol=1e-3, rtol=1e-6)
        p = torch.tensor([0.0, 1.0]).view(1, 1, 1, 2)  # rounded sigmoids: finite, as in BCE
        from explorer.model.conventions import observation
        assert torch.isfinite(observation(p, "bernoulli_probs", None).log_prob(torch.tensor([1.0, 0.0]).view(1, 1, 1, 2)))


def test_saved_file_holds_no_code_and_reads_back_its_card(tmp_path):
    _, m = _examples()
    path = explorer.save_model(m, tmp_path / "ex.vaex")
    meta = explorer.read_metadata(path)
    assert meta["imported"]["encoder_output"] == "mean_logvar" and meta["config"]["arch"] == "imported"
    assert meta["dataset"]["name"] == "mnist" and meta["dataset"]["pixels"] == "grey"
    data = path.read_bytes()
    assert b"\x80\x04" not in data[:16] and not data.startswith(b"PK")  # no pickle, no zip
    ckpt = explorer.load_checkpoint(path)
    assert ckpt.dataset.name == "mnist" and ckpt.optimizer_state is None


def test_suffixes_are_kept_apart(tmp_path):
    _, m = _examples()
    with pytest.raises(ValueError, match=r"\.vaex"):
        explorer.save_model(m, tmp_path / "ex.safetensors")
    native = explorer.build_model({"latent_dim": 2, "hidden": [8]})
    with pytest.raises(ValueError, match="safetensors"):
        explorer.save_model(native, tmp_path / "n.vaex")


def test_imported_model_cannot_be_built_or_trained_as_native():
    _, m = _examples()
    with pytest.raises(ValueError, match="imported"):
        explorer.build_model(m.config)


def test_a_loaded_model_is_in_eval_mode_and_its_file_carries_no_paths(tmp_path):
    """torch's exporter writes stack traces (the exporting machine's paths) into node metadata: not kept."""
    import io
    from pathlib import Path

    vae = examples_vae()

    class Encoder(torch.nn.Module):
        def forward(self, x):
            return vae.encode(x)

    graphs = []
    for module, example in ((Encoder(), torch.rand(1, 1, 28, 28)), (_Decoder(vae), torch.rand(1, 20))):
        f = io.BytesIO()
        torch.onnx.export(module, (example,), f, external_data=False)
        graphs.append(f.getvalue())
    here = str(Path(__file__).resolve().parent).encode()
    assert any(here in g for g in graphs)  # the exporter's notes name this folder...
    m = explorer.from_onnx(*graphs, image_shape=(1, 28, 28), encoder_output="mean_logvar", likelihood="bernoulli_probs")
    path = explorer.save_model(m, tmp_path / "d.vaex")
    assert here not in path.read_bytes()  # ...the saved file does not
    loaded = explorer.load_model(path)
    assert not loaded.training
    z = torch.randn(3, 20)
    torch.testing.assert_close(loaded.decode(z).mean.reshape(3, 784), vae.decode(z), atol=1e-5, rtol=0)


class _Decoder(torch.nn.Module):
    def __init__(self, vae):
        super().__init__()
        self.vae = vae

    def forward(self, z):
        return self.vae.decode(z)


def test_a_module_traced_with_a_constant_batch_still_saves_a_working_file(tmp_path):
    """x.reshape(len(x), -1) is traced as a constant batch size: the export is checked at another batch size
    and, failing that, made for one row at a time, so the file works for any batch."""
    class Encoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.head = torch.nn.Conv2d(1, 4, 3, 2, 1), torch.nn.Linear(4 * 14 * 14, 4)

        def forward(self, x):
            return self.head(torch.relu(self.conv(x)).reshape(len(x), -1))

    class Decoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(2, 784)

        def forward(self, z):
            return self.lin(z).reshape(len(z), 1, 28, 28)

    torch.manual_seed(0)
    m = explorer.from_torch(Encoder(), Decoder(), image_shape=(1, 28, 28), encoder_output="mean_logvar",
                            likelihood="bernoulli_logits")
    loaded = explorer.load_model(explorer.save_model(m, tmp_path / "len.vaex"))
    x, z = torch.rand(5, 1, 28, 28), torch.randn(7, 2)
    with torch.no_grad():
        torch.testing.assert_close(loaded.encode(x).mean, m.encode(x).mean, atol=1e-5, rtol=0)
        torch.testing.assert_close(loaded.decode(z).mean, m.decode(z).mean, atol=1e-5, rtol=0)


def test_a_graph_of_grey_images_without_a_channel_axis(tmp_path):
    """JAX code often takes (N, H, W): layout 'nhw', found from the graph's declared input by from_onnx."""
    import io

    class Encoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(784, 4)

        def forward(self, x):  # (N, 28, 28)
            return self.lin(x.flatten(1))

    class Decoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(2, 784)

        def forward(self, z):  # -> (N, 28, 28) logits
            return self.lin(z).unflatten(1, (28, 28))

    torch.manual_seed(0)
    enc, dec = Encoder().eval(), Decoder().eval()
    graphs = []
    for module, example in ((enc, torch.rand(2, 28, 28)), (dec, torch.rand(2, 2))):
        f = io.BytesIO()
        torch.onnx.export(module, (example,), f, dynamo=False, input_names=["x"], dynamic_axes={"x": {0: "n"}})
        graphs.append(f.getvalue())
    m = explorer.from_onnx(*graphs, image_shape=(1, 28, 28), encoder_output="mean_logvar",
                           likelihood="bernoulli_logits")
    assert m.card.layout == "nhw"
    x, z = torch.rand(3, 1, 28, 28), torch.randn(3, 2)
    with torch.no_grad():
        torch.testing.assert_close(m.encode(x).mean, enc(x[:, 0])[:, :2], atol=1e-5, rtol=0)
        torch.testing.assert_close(m.decode(z).mean[:, 0], torch.sigmoid(dec(z)), atol=1e-5, rtol=0)
    loaded = explorer.load_model(explorer.save_model(m, tmp_path / "nhw.vaex"))
    assert loaded.card.layout == "nhw"
