"""The sidebar: which model (bundled, trained this session, uploaded), which device, the model card."""
from __future__ import annotations

import hashlib
import math

import streamlit as st

from explorer.data.ref import model_unit
from explorer.evaluation.latent_use import ACTIVE_RULE, ALIVE_RULE
from explorer.model.config import IMPORTED
from explorer.model.devices import available_devices, resolve_device
from explorer.model.imported import ImportedModel
from explorer.model.latent_model import LatentModel
from explorer.store.checkpoint import CheckpointError, load_checkpoint_bytes
from explorer.store.guarded import UNREADABLE, Unreadable
from explorer.store.request_memory import upload_estimate
from explorer.ui.state import caches, current_model, selection, session_end, user_images
from explorer.ui.widgets import guards, presenter_mode
from explorer.ui.widgets.plain_text import plain

SOURCES = {"bundled": "Bundled", "saved": "Saved on this server", "session": "Trained here", "upload": "Upload"}
DEVICE_NAMES = {"auto": "auto", "cuda": "CUDA", "mps": "Apple MPS", "cpu": "CPU"}


def render() -> None:
    sb = st.sidebar
    sb.header("Model")
    device = _device_picker()
    bundled = caches.bundled_checkpoints()
    saved = caches.saved_checkpoints()
    session_models = current_model.session_models()
    sources = [s for s, ok in (("bundled", bundled), ("saved", saved), ("session", session_models), ("upload", True))
               if ok]
    if not bundled:
        sb.warning(f"No bundled checkpoints in `{caches.trained_dir()}`. Train a model on the Train page, "
                   "or upload a checkpoint.")
        sb.page_link(guards.TRAIN_PAGE, label="Train a model", icon=":material/fitness_center:")
    source = sb.radio("Source", sources, format_func=SOURCES.get, horizontal=True, key="model_source")
    cur = None
    if source == "bundled":
        cur = _bundled(bundled, device)
    elif source == "saved":
        cur = _bundled(saved, device, "Saved on this server (newest first)", "saved_name")
    elif source == "session":
        name = sb.selectbox("Model trained in this session", list(session_models), key="session_model_name")
        if name is not None:
            cur = current_model.session_current(name, session_models[name], device)
    else:
        cur = _uploaded(device)
    if cur is not None and (mine := user_images.choose(cur.model, cur.key)) is not None:
        cur = current_model.Current(mine[0], mine[1], cur.name, cur.source)
    selection.set_current(cur)
    if cur is not None:
        _card(cur)
    presenter_mode.toggle()


def open_session_model(name: str) -> None:
    """Choose a model trained here in the sidebar; call from a button callback (it runs before the sidebar
    draws these widgets)."""
    st.session_state["model_source"] = "session"
    st.session_state["session_model_name"] = name


def _device_picker() -> str:
    """Only devices that exist here can be picked; the missing ones are named, so nobody wonders."""
    avail = available_devices()
    choice = st.sidebar.selectbox("Device", ["auto"] + avail, key="device", format_func=lambda d: (
        f"auto ({DEVICE_NAMES[resolve_device('auto').type]})" if d == "auto" else DEVICE_NAMES.get(d, d)))
    missing = [DEVICE_NAMES[d] for d in ("cuda", "mps") if d not in avail and (d != "mps" or _is_mac())]
    note = f"Available here: {', '.join(DEVICE_NAMES[d] for d in avail)}."
    if missing:
        note += f" Not available: {', '.join(missing)}."
    st.sidebar.caption(note)
    return str(resolve_device(choice))


def _is_mac() -> bool:
    import platform

    return platform.system() == "Darwin"


def _bundled(bundled: list[caches.Bundled], device: str, title: str = "Bundled checkpoint",
             key: str = "bundled_name") -> current_model.Current | None:
    by_name = {b.name: b for b in bundled}

    def label(name: str) -> str:
        m = by_name[name].meta
        if "error" in m:
            return f"{name} {UNREADABLE}"
        c = m.get("config", {})
        ds = (m.get("dataset") or {}).get("name", "?")
        made = " · imported" if c.get("arch") == IMPORTED else ""  # trained elsewhere (a .vaex file)
        return f"{name} · {c.get('kind', '?').upper()}{made} · latent {c.get('latent_dim', '?')} · {ds}"

    pinned = caches.default_model()
    if key == "bundled_name" and pinned not in by_name and pinned != caches.SHIPPED_DEFAULT:
        st.sidebar.warning(f"{caches.DEFAULT_MODEL_ENV} names {plain(repr(pinned))}, which is not in "
                           f"{caches.trained_dir()}; opening on another model.")
    name = st.sidebar.selectbox(title, list(by_name), format_func=label, key=key)
    b = by_name.get(name)
    if b is None:
        return None
    if "error" in b.meta:
        st.sidebar.error(f"Cannot load {plain(b.name)}: {plain(b.meta['error'])}")
        return None
    try:
        return current_model.bundled_current(b, device)
    except Unreadable as e:
        st.sidebar.error(f"Cannot load {plain(b.name)}: {plain(e)}")
        return None


def _uploaded(device: str) -> current_model.Current | None:
    """A checkpoint from the user's disk, loaded without unpickling; a bad file is a message."""
    up = st.sidebar.file_uploader("Checkpoint file (.safetensors or .vaex)", key="ckpt_upload",
                                  help="A file written by `python -m explorer train` or the Train page, or a model "
                                       "trained elsewhere (`python -m explorer import-onnx`, `explorer.save_model`). "
                                       "Pickles (.pt, .pth) are refused: loading them can run code.")
    if up is None:
        st.sidebar.info("Upload a checkpoint to explore it.")
        return None
    data = up.getvalue()
    digest = hashlib.sha256(data).hexdigest()[:16]
    key, sid = f"upload:{digest}:{device}", session_end.session_id()
    # held for every session that uploads this file, and dropped when the last of them ends (session_end)
    model = session_end.uploads().claim(key, sid)
    if model is None:
        try:
            why = caches.over_budget(upload_estimate(data, up.name))  # before anything is built
            if why:
                st.sidebar.error(f"Cannot load {plain(up.name)}: {plain(why)}.")
                return None
            model = load_checkpoint_bytes(data, name=up.name, device=device).model
        except CheckpointError as e:
            st.sidebar.error(f"Cannot load this checkpoint. {plain(e)}")
            return None
        except Exception as e:  # a header that parses but builds nothing sensible: still a message
            st.sidebar.error(f"Cannot load {plain(up.name)}: {type(e).__name__}: {plain(e)}")
            return None
        model = session_end.uploads().put(key, sid, model)
    return current_model.Current(model, key, up.name, "upload")


def scored_on(model) -> str:
    """What a checkpoint's bounds and likelihoods score, in words (its numbers compare only with the same)."""
    unit = model_unit(model)
    return unit.label + ("" if unit.probability else "; not comparable with other models")


def _headline(model, metrics: dict) -> list[tuple[str, str]]:
    """The two or three numbers a class compares, with their units."""
    rows, unit, dims = [], model_unit(model), math.prod(model.config.image_shape)
    if isinstance(metrics.get("test_log_likelihood"), (int, float)):
        k = metrics.get("eval_k")
        rows.append(("test log p(x)", unit.show(metrics["test_log_likelihood"], dims) + (f" (k = {k:,})" if k else "")))
    if isinstance(metrics.get("test_elbo"), (int, float)):
        name = "test ELBO" if model.is_variational else "test reconstruction log p(x|z)"
        rows.append((name, unit.show(metrics["test_elbo"], dims, of_x=model.is_variational)))
    if isinstance(metrics.get("active_units"), int):
        rows.append(("active latent dimensions", f"{metrics['active_units']} of {model.latent_dim}"))
    return rows


def _card(cur: current_model.Current) -> None:
    """The short card (kind, architecture, latent size, data, headline numbers with their units); the
    rest of what the checkpoint says behind "details". Text from the file is shown as text, never markdown."""
    m, meta = cur.model, cur.model.metadata
    c = m.config
    ds = meta.get("dataset") or {}
    size = ds.get("train_size")
    metrics = meta.get("metrics") if isinstance(meta.get("metrics"), dict) else {}
    # few elements (each costs every page's browser its drawing): the app's words in one Markdown, the file's
    # own words (name, data set, where it came from) in one text, shown literally, never as Markdown
    with st.sidebar.container(border=True):
        if isinstance(m, ImportedModel):  # no architecture of ours to name: where it came from instead
            kind = f"{c.kind.upper()} · trained elsewhere · latent **{c.latent_dim}**"
        else:
            kind = f"{c.kind.upper()} · {c.arch.upper()} {'-'.join(map(str, c.hidden))} · latent **{c.latent_dim}**"
        st.markdown(f"**Model card**  \n{kind}")
        data = str(ds.get("name", "unknown data")) + (f", {size:,} training images" if isinstance(size, int) else "")
        st.text("\n".join([cur.name, data] + ([_origin(m)] if isinstance(m, ImportedModel) else [])))
        head = _headline(m, metrics)
        if head:
            st.markdown("\n".join(f"- {k}: **{v}**" for k, v in head))
            notes = [scored_on(m)]
            if isinstance(metrics.get("active_units"), int):  # which of the two rules (evaluation.latent_use)
                notes.append(f"Active: {ACTIVE_RULE}. The Train page counts dimensions alive by {ALIVE_RULE}.")
            st.caption("  \n".join(notes))
        details = st.expander("details", key="card_details", on_change="rerun")
        with details:
            if details.open:  # built when opened: every page carries the sidebar, and its browser draws it
                st.text("\n".join(f"{k}: {v}" for k, v in _details(m, meta, metrics)))
                st.caption(plain(m.describe()))


def _details(m: LatentModel, meta: dict, metrics: dict) -> list[tuple[str, str]]:
    """The rest of what the checkpoint says, for the card's details."""
    c = m.config
    rows = [("likelihood", c.likelihood.replace("_", " ")), ("activation", c.activation),
            ("parameters", f"{m.num_parameters():,}")]
    if isinstance(m, ImportedModel):  # its names are in the card above; its activations are its own
        rows = [("image layout", m.card.layout), rows[-1]]
    epochs = (meta.get("history") or {}).get("epochs") or []
    if epochs:
        rows.append(("trained", f"{len(epochs)} epoch{'' if len(epochs) == 1 else 's'}"
                     + (f", {meta['status']}" if isinstance(meta.get("status"), str) else "")))
    for k, v in metrics.items():
        rows.append((_DETAIL_NAMES.get(k, str(k).replace("_", " ")), _metric(v) + _detail_unit(k, v)))
    return rows


def _origin(model: ImportedModel) -> str:
    """Where an imported model came from and how its outputs are read, as plain text (the file says it)."""
    c = model.card
    source = {"onnx": "ONNX", "torch": "PyTorch"}.get(c.source, c.source)
    sigma = f" (sigma {c.sigma:g})" if c.sigma is not None else ""
    return f"imported from {source}\nencoder output: {c.encoder_output}\nlikelihood: {c.likelihood}{sigma}"


_DETAIL_NAMES = {"active_units": "active dimensions"}  # "units" names units of measurement, not dimensions
_NATS = ("test_elbo", "test_recon", "test_kl", "test_gap", "test_log_likelihood", "test_log_likelihood_stderr",
         "test_log_likelihood_std", "kl_per_dim")


def _detail_unit(key: str, v) -> str:
    """The unit a stored metric is in, for the card's details: nats per image, or bits/dim."""
    if not isinstance(v, (int, float, list)) or isinstance(v, bool) or v == []:
        return ""
    return " nats per image" if key in _NATS else " bits/dim" if key == "test_bits_per_dim" else ""


def _metric(v) -> str:
    """A checkpoint's metric for the card: numbers to 2 decimals, a long list of them (e.g. 50 per-dimension
    KLs, which used to fill the sidebar at 17 digits each) as its count and range, None as "none"."""
    if v is None:
        return "none"
    if isinstance(v, float):
        return f"{v:.2g}" if 0 < abs(v) < 0.01 else f"{v:.2f}"  # a standard error of 0.0028 is not 0.00
    if isinstance(v, (list, tuple)) and v and all(isinstance(e, (int, float)) for e in v):
        if len(v) <= 4:
            return "[" + ", ".join(_metric(float(e)) for e in v) + "]"
        return f"{len(v)} values, {min(v):.2f} to {max(v):.2f}"
    return str(v)
