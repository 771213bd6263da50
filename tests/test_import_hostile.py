"""Hostile .onnx and .vaex files: each refused with one line before onnxruntime sees it (nothing run), and the
memory a refusal takes is bounded by the file's size, whatever shape the file claims."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from onnx import TensorProto, helper
from safetensors.numpy import save as np_save

import explorer
from explorer.model.onnx_checks import GraphError
from explorer.store.checkpoint import CheckpointError
from explorer.store.vaex_file import graphs_of
from tests.foreign_models import examples_vae

OPTS = dict(image_shape=(1, 28, 28), encoder_output="mean_logvar", likelihood="bernoulli_probs")


@pytest.fixture(scope="module")
def good() -> tuple[bytes, bytes]:
    return graphs_of(explorer.from_torch(examples_vae(), **OPTS))


def _graph(nodes, inits=(), inputs=None, opsets=(("", 17),)) -> bytes:
    inputs = inputs or [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 20])]
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    g = helper.make_graph(nodes, "g", inputs, [out], initializer=list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets]).SerializeToString()


def external_data() -> bytes:
    w = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[20, 784])
    w.data_location = TensorProto.EXTERNAL
    w.external_data.add(key="location", value="/etc/passwd")
    return _graph([helper.make_node("MatMul", ["x", "w"], ["y"])], [w])


def custom_domain() -> bytes:
    return _graph([helper.make_node("Evil", ["x"], ["y"], domain="com.evil")], opsets=(("", 17), ("com.evil", 1)))


def huge_claim() -> bytes:
    w = helper.make_tensor("w", TensorProto.FLOAT, [1, 1], vals=[1.0])
    w.dims[:] = [2 ** 20, 2 ** 20]  # claims 4 TB, stores 4 bytes
    return _graph([helper.make_node("MatMul", ["x", "w"], ["y"])], [w])


def huge_input() -> bytes:
    inp = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 10 ** 12])]
    return _graph([helper.make_node("Relu", ["x"], ["y"])], inputs=inp)


def runtime_alloc() -> bytes:
    return _graph([helper.make_node("Shape", ["x"], ["s"]), helper.make_node("ConstantOfShape", ["s"], ["y"])])


HOSTILE = {"external data": (external_data, "outside file"), "custom domain": (custom_domain, "domain"),
           "huge claimed shape": (huge_claim, "claims the shape"), "huge input": (huge_input, "claims the shape"),
           "run-time allocation": (runtime_alloc, "ConstantOfShape")}


@pytest.mark.parametrize("what", sorted(HOSTILE))
def test_hostile_graph_refused_in_one_line(what, good):
    make, words = HOSTILE[what]
    with pytest.raises(GraphError, match=words) as e:
        explorer.from_onnx(make(), good[1], **OPTS)
    assert "\n" not in str(e.value)


def test_truncated_and_garbage_graphs(good):
    for data in (good[0][: len(good[0]) // 2], b"\x00" * 64, b"not onnx at all"):
        with pytest.raises(GraphError) as e:
            explorer.from_onnx(data, good[1], **OPTS)
        assert "\n" not in str(e.value)


def _vaex(enc: bytes, dec: bytes, **card) -> bytes:
    meta = {"format_version": 1, "config": {"latent_dim": 20},
            "imported": {"image_shape": [1, 28, 28], "latent_dim": 20, "encoder_output": "mean_logvar",
                         "likelihood": "bernoulli_probs", "layout": "nchw", "source": "onnx", **card}}
    return np_save({"graph.encoder": np.frombuffer(enc, np.uint8), "graph.decoder": np.frombuffer(dec, np.uint8)},
                   metadata={"explorer": json.dumps(meta)})


def test_hostile_vaex_files_refused(tmp_path, good):
    cases = {"external": _vaex(external_data(), good[1]), "domain": _vaex(good[0], custom_domain()),
             "card": _vaex(*good, likelihood="evil"), "latent": _vaex(*good, latent_dim=3),
             "truncated": _vaex(*good)[:-1000]}
    for name, data in cases.items():
        p = tmp_path / f"{name}.vaex"
        p.write_bytes(data)
        with pytest.raises(CheckpointError) as e:
            explorer.load_model(p)
        assert "\n" not in str(e.value), name
    (tmp_path / "ok.vaex").write_bytes(_vaex(*good))  # the same graphs with an honest card load
    assert explorer.load_model(tmp_path / "ok.vaex").latent_dim == 20


def test_refusing_a_huge_claim_allocates_little(tmp_path, good):
    p = tmp_path / "huge.vaex"
    p.write_bytes(_vaex(huge_claim(), good[1]))
    code = (f"import resource, explorer, onnx, onnxruntime\n"
            f"before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            f"try:\n    explorer.load_model({str(p)!r})\nexcept explorer.CheckpointError:\n    pass\n"
            f"print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)")
    grew_kb = int(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert grew_kb * 1024 < 20 * p.stat().st_size + 32 * 2 ** 20  # claims 4 TB; a few copies of the file at most


def convtranspose_bomb() -> bytes:
    """A few hundred bytes whose strides and output padding ask for a 90,000 x 90,000 image: refused by static
    shape inference before it runs (the reviewer's 714-byte file took an app server to 7.3 GB)."""
    shape = helper.make_tensor("shape", TensorProto.INT64, [4], [-1, 20, 1, 1])
    w1 = helper.make_tensor("w1", TensorProto.FLOAT, [20, 1, 1, 1], [0.1] * 20)
    w2 = helper.make_tensor("w2", TensorProto.FLOAT, [1, 64, 1, 1], [0.1] * 64)
    ct = dict(strides=[300, 300], output_padding=[299, 299])
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["r"]),
             helper.make_node("ConvTranspose", ["r", "w1"], ["a"], **ct),
             helper.make_node("ConvTranspose", ["a", "w2"], ["y"], **ct)]
    return _graph(nodes, [shape, w1, w2])


def test_a_graph_that_would_allocate_gigabytes_is_refused_before_it_runs(tmp_path, good):
    with pytest.raises(GraphError, match="over the cap") as e:
        explorer.from_onnx(good[0], convtranspose_bomb(), **OPTS)
    assert "\n" not in str(e.value)
    p = tmp_path / "bomb.vaex"
    p.write_bytes(_vaex(good[0], convtranspose_bomb()))
    code = (f"import resource, explorer, onnx, onnxruntime\n"
            f"before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            f"try:\n    explorer.load_model({str(p)!r})\nexcept explorer.CheckpointError as e:\n    print(e)\n"
            f"print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    assert "over the cap" in out[0] and int(out[-1]) * 1024 < 64 * 2 ** 20
