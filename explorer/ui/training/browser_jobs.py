"""This browser's training across reloads, and where the app saves models on a shared server.

Identity: a random token per browser, kept in a cookie (`vaex_token`, SameSite=Strict, a week). A reload
or a second tab of the same browser sends it back, so the Train page finds the training it started.
It protects a class from accidents (a reload, a closed laptop), not from a person who copies someone
else's cookie: the app has no accounts.
"""
from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from collections import OrderedDict
from pathlib import Path

import streamlit as st

from explorer.jobs import JobSpec, TrainingJob
from explorer.jobs.registry import JobRegistry
from explorer.store import saves
from explorer.ui.state import caches
from explorer.ui.training.reaper_settings import HEARTBEAT_S, MISSED_BEATS, grace_from_env
from explorer.web.sources import component_js

COOKIE = "vaex_token"
COOKIE_MAX_AGE_S = 7 * 24 * 3600
JOB = "train_job"  # this session's TrainingJob: per user, so never in a shared cache
REATTACHED = "_train_reattached"  # shown once on the Train page after a reload found the job
_TOKEN = "_browser_token"
_FORM_BACK = "_train_form_restored"  # this session has had its browser's Train form back
_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")

_COOKIE_SETTER = st.components.v2.component("vae_explorer_browser_token", js=component_js("browser_token"))


def token() -> str:
    """This browser's token: the cookie's, else a new one that the page is asked to store."""
    t = st.session_state.get(_TOKEN)
    if t is None:
        sent = _cookie()
        t = sent if _TOKEN_RE.fullmatch(sent) else secrets.token_urlsafe(24)
        st.session_state[_TOKEN] = t
    return t


def _cookie() -> str:
    sent = st.context.cookies.get(COOKIE, "")
    return sent if isinstance(sent, str) else ""  # AppTest has no browser (and no cookies)


def owner_id() -> str:
    """Who saved a file, as the saves index records it: a hash, so the index never holds a token."""
    return hashlib.sha256(token().encode()).hexdigest()[:16]


def remember_browser(slot) -> None:
    """Ask the page to keep the token (once per session; the cookie comes back on the next connect)."""
    if _cookie() != token():
        with slot:
            _COOKIE_SETTER(data={"name": COOKIE, "token": token(), "max_age": COOKIE_MAX_AGE_S},
                           key="browser_token")


def _session_id() -> str:
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else "no-session"


def _alive(session_id: str) -> bool:
    from streamlit.runtime import Runtime

    if not Runtime.exists():  # AppTest: no server, no reloads to survive
        return True
    return Runtime.instance().is_active_session(session_id)


def _keep(tok: str, job: TrainingJob) -> Path | None:
    """An abandoned job's model goes to the saves folder, unless its owner saved this very state."""
    snap = job.snapshot()
    if job.trainer is None or snap.status in ("queued", "loading") or job.kept == (snap.run, snap.epoch):
        return None
    folder = saves_folder()
    name = saves.unique_name(f"{default_stem(job)}-unattended", folder)
    owner = hashlib.sha256(tok.encode()).hexdigest()[:16]
    return saves.save_as(job.save, folder, name, owner, protected=(caches.trained_dir(),))


class FormMemory:
    """The Train form's last values per browser token, so a new session of the same browser (a reload, a
    reconnect after the server was too busy to answer) shows what the person had set. Bounded: the
    least recently used browsers are forgotten first."""

    def __init__(self, size: int = 2000):
        self.size = size
        self._lock = threading.Lock()
        self._values: OrderedDict[str, dict] = OrderedDict()

    def put(self, tok: str, values: dict) -> None:
        with self._lock:
            self._values[tok] = dict(values)
            self._values.move_to_end(tok)
            while len(self._values) > self.size:
                self._values.popitem(last=False)

    def get(self, tok: str) -> dict:
        with self._lock:
            return dict(self._values.get(tok, {}))


@st.cache_resource(show_spinner=False)
def form_memory() -> FormMemory:
    return FormMemory()


def remember_form(keys: tuple[str, ...]) -> None:
    """Call after drawing the form's widgets (in its fragment too)."""
    form_memory().put(token(), {k: st.session_state[k] for k in keys if k in st.session_state})


@st.cache_resource(show_spinner=False)
def registry() -> JobRegistry:
    """The server's one registry of trainings by browser, with its reaper thread."""
    reg = JobRegistry(_alive, _keep, grace_s=grace_from_env(), beat_timeout_s=MISSED_BEATS * HEARTBEAT_S)
    reg.run_reaper(every_s=min(30.0, max(0.5, reg.grace_s / 4)))
    return reg


def attach() -> None:
    """Before the pages draw: a new session of this browser gets its Train form back, a session that has no
    training takes over the one its browser started, and the page keeps its training alive (heartbeat).

    The cookie setter and the heartbeat sit in two containers made first in the sidebar, in every run, whether
    they draw anything or not: every other element keeps its delta path, and the heartbeat fragment keeps its
    id, whatever this browser has done (see the note on fixed slots in ui/pages/train.py)."""
    cookie_slot, beat_slot = st.sidebar.container(), st.sidebar.container()
    if _FORM_BACK not in st.session_state:
        st.session_state[_FORM_BACK] = True
        for key, value in form_memory().get(token()).items():
            st.session_state.setdefault(key, value)
    if st.session_state.get(JOB) is None:
        job = registry().attach(token(), _session_id())
        if job is not None:
            st.session_state[JOB] = job
            st.session_state[REATTACHED] = True
            for key, value in form_values(job.spec).items():  # the form shows what that training was given
                st.session_state.setdefault(key, value)
    remember_browser(cookie_slot)
    if registry().beat(token()):  # this browser has a training here: its open page beats
        with beat_slot:
            _beat()


@st.fragment(run_every=HEARTBEAT_S)
def _beat() -> None:
    """Every HEARTBEAT_S a timer in the page reruns this fragment alone: the registry hears that the page is
    open, on any page of the app, even when the server counts the session's connection gone."""
    registry().beat(token())


def show_settings(spec: JobSpec) -> None:
    """Before the form draws: while a training runs its (disabled) form shows what that training was given,
    whatever a page switch did to the kept values meanwhile."""
    for key, value in form_values(spec).items():
        st.session_state[key] = value


def form_values(spec: JobSpec) -> dict:
    """The Train form's widget values that would start `spec` again."""
    t, m = spec.train, spec.model
    values = {"train_dataset": spec.dataset, "train_data_dir": spec.data_dir or "",
              "train_download_data": spec.download, "train_seed": t.seed, "train_device": t.device,
              "train_beta": t.beta, "train_warmup": t.warmup_epochs,
              "train_iwae_k": t.iwae_k, "train_estimator": t.estimator, "train_epochs": t.epochs,
              "train_batch_size": t.batch_size, "train_lr": t.lr, "train_pixels": spec.pixels}
    for key, field in (("train_kind", "kind"), ("train_arch", "arch"), ("train_latent", "latent_dim"),
                       ("train_likelihood", "likelihood")):
        if field in m:
            values[key] = m[field]
    if "hidden" in m:
        values["train_hidden"] = ",".join(str(h) for h in m["hidden"])
    return values


def start(spec: JobSpec) -> TrainingJob:
    job = TrainingJob(spec).start()
    registry().register(token(), job, _session_id())
    st.session_state[JOB] = job
    return job


def saves_folder() -> Path:
    return caches.saves_dir()


def default_stem(job: TrainingJob) -> str:
    m = job.spec.model
    return f"{job.spec.dataset}-{m.get('kind', 'vae')}-z{m.get('latent_dim', 2)}"


def save(job: TrainingJob, raw_name: str, overwrite: bool = False) -> Path:
    """Save the job's model for this browser; SaveRefused / AlreadySaved say why not."""
    path = saves.save_as(job.save, saves_folder(), saves.clean_name(raw_name, default_stem(job)), owner_id(),
                         overwrite=overwrite, protected=(caches.trained_dir(),))
    snap = job.snapshot()
    job.kept = (snap.run, snap.epoch)
    return path


def new_name(job: TrainingJob) -> str:
    return saves.unique_name(default_stem(job), saves_folder(), time.time())
