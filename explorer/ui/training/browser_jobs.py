"""This browser's training across reloads, and where the app saves models on a shared server.

Identity: a random token per browser, which the server sets as an HttpOnly, SameSite=Strict cookie (`vaex_token`,
a week; ui/training/token_cookie.py) and the session reads from its websocket's handshake: page script never
holds it, and it never travels in component data. A reload or a second tab of the same browser sends it back,
so the Train page finds the training it started. A teacher can reset a browser (`python -m explorer browsers
reset ID`, explorer/store/browsers.py): its token is refused from then on, here too while a page is open, and
the claim link gives its files and its training to a fresh token. Without a cookie (AppTest, a browser that
refuses cookies) a session has a token of its own, and a reload does not find the training.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from pathlib import Path

import streamlit as st

from explorer.jobs import JobSpec, TrainingJob
from explorer.jobs.registry import JobRegistry
from explorer.store import browsers, saves
from explorer.ui.state import caches, widget_memory
from explorer.ui.training.reaper_settings import HEARTBEAT_S, MISSED_BEATS, grace_from_env
from explorer.ui.training.token_cookie import CLAIM, COOKIE

JOB = "train_job"  # this session's TrainingJob: per user, so never in a shared cache
REATTACHED = "_train_reattached"  # shown once on the Train page after a reload found the job
_TOKEN = "_browser_token"
_FORM_BACK = "_train_form_restored"  # this session has had its browser's Train form back


def token() -> str:
    """This browser's token: the cookie's, else one of this session's own; a new one once a teacher has reset
    it (and the training it showed is no longer this page's)."""
    t = st.session_state.get(_TOKEN)
    if t is not None and not browsers.is_revoked(saves_folder(), t):
        return t
    if t is not None:  # reset while this page was open: it is somebody else's browser now
        st.session_state.pop(JOB, None)
        st.session_state.pop(REATTACHED, None)
    sent = _cookie()
    good = browsers.valid_token(sent) and not browsers.is_revoked(saves_folder(), sent)
    t = sent if good else browsers.new_token()
    st.session_state[_TOKEN] = t
    return t


def _cookie() -> str:
    sent = st.context.cookies.get(COOKIE, "")
    return sent if isinstance(sent, str) else ""  # AppTest has no browser (and no cookies)


def owner_id() -> str:
    """Who saved a file, as the saves index records it: a hash, so the index never holds a token."""
    return browsers.owner_of(token())


def browser_id() -> str:
    """The short, non-secret name of this browser that the Train page shows (a teacher resets it by this)."""
    return browsers.browser_id(token())


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
    owner = browsers.current_owner(folder, browsers.owner_of(tok))  # its heir, if a teacher reset it and it was claimed
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
        """Merged into what the browser had: a run that has not drawn every field keeps the others."""
        with self._lock:
            self._values[tok] = {**self._values.get(tok, {}), **values}
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
    """Before the pages draw: a new session of this browser gets its Train form back (and, opened from a claim
    link, the training of the browser a teacher reset), a session that has no training takes over the one its
    browser started, and the page keeps its training alive (heartbeat).

    The heartbeat sits in a container made first in the sidebar, in every run, whether it draws anything or not:
    every other element keeps its delta path, and the heartbeat fragment keeps its id, whatever this browser has
    done (see the note on fixed slots in ui/pages/train.py)."""
    beat_slot = st.sidebar.container()
    if _FORM_BACK not in st.session_state:
        st.session_state[_FORM_BACK] = True
        inherit()
        for key, value in form_memory().get(token()).items():
            st.session_state.setdefault(key, value)
    if st.session_state.get(JOB) is None:
        job = registry().attach(token(), _session_id())
        if job is not None:
            st.session_state[JOB] = job
            st.session_state[REATTACHED] = True
            for key, value in form_values(job.spec).items():  # the form shows what that training was given
                st.session_state.setdefault(key, value)
    remember_form(widget_memory.registered("train_"))  # an edit followed at once by a visit elsewhere: kept
    if registry().beat(token()):  # this browser has a training here: its open page beats
        with beat_slot:
            _beat()


def inherit() -> None:
    """Once a session: if this browser's token came from a claim link, the reset browser's training is its own
    now (its saved files were handed over when the link was opened). The link's code, used up, leaves the URL."""
    for old in browsers.inherited(saves_folder(), owner_id()):
        registry().rekey(lambda tok, old=old: browsers.owner_of(tok).startswith(old), token(), _session_id())
    if CLAIM in st.query_params:
        del st.query_params[CLAIM]


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
    owner = owner_id()  # first: a token reset meanwhile drops the job from this session
    if st.session_state.get(JOB) is not job:  # a Save clicked on a page whose browser a teacher has since reset
        raise saves.SaveRefused("this training is no longer this browser's (it was reset); reload the page")
    path = saves.save_as(job.save, saves_folder(), saves.clean_name(raw_name, default_stem(job)), owner,
                         overwrite=overwrite, protected=(caches.trained_dir(),))
    snap = job.snapshot()
    job.kept = (snap.run, snap.epoch)
    return path


def new_name(job: TrainingJob) -> str:
    return saves.unique_name(default_stem(job), saves_folder(), time.time())
