"""Train page: choose data, model and objective (train_form), then start / stop / resume a training that runs
on a background thread (explorer.jobs) while a fragment polls it once a second for the live curves and map."""
from __future__ import annotations

import time

import streamlit as st

from explorer.evaluation.latent_use import ACTIVE_RULE, ALIVE_RULE
from explorer.figures import plots, training_curves
from explorer.jobs import JobSnapshot, LIVE_WEIGHTS_S, TrainingJob
from explorer.model.imported import ImportedModel
from explorer.ui import sidebar
from explorer.ui.map import canvas
from explorer.ui.state import current_model, selection
from explorer.ui.training import browser_jobs, save_panel
from explorer.ui.training.browser_jobs import JOB
from explorer.ui.training.form import settings_form
from explorer.ui.widgets.plain_text import plain

REGISTERED = "_train_registered"  # (job id, run) pairs already added to the session models
POLL_S = 1.0  # live panel refresh while a job is queued or training
EPOCH_REDRAW_S = 4.0  # the whole page redraws for a new epoch at most this often (short epochs come many a second)

STATUS_TEXT = {"queued": "Waiting for a free training slot", "loading": "Loading the data",
               "running": "Training", "stopped": "Stopped", "finished": "Finished",
               "diverged": "Diverged", "error": "Failed"}


def model_name(job: TrainingJob, snap: JobSnapshot) -> str:
    m = job.spec.model
    n = len(snap.epochs)
    return (f"{job.spec.dataset} {m.get('kind', 'vae').upper()} z{m.get('latent_dim', 2)} · "
            f"{n} epoch{'' if n == 1 else 's'}, {snap.status} (#{job.id}.{snap.run})")


def register_result(job: TrainingJob, snap: JobSnapshot) -> str | None:
    """Add a stopped or finished model to the session's models once per run, for the sidebar to offer.

    The sidebar is drawn before this page, so a model added here reruns the app once to appear there.
    """
    if snap.status not in ("stopped", "finished") or job.trainer is None:
        return None
    done = st.session_state.setdefault(REGISTERED, {})
    if (job.id, snap.run) not in done:
        name = model_name(job, snap)
        current_model.add_session_model(name, job.result_model())
        done[(job.id, snap.run)] = name
        st.rerun()
    return done[(job.id, snap.run)]


def explore(name: str) -> None:
    """Button callback: choose the trained model in the sidebar (callbacks run before its widgets)."""
    sidebar.open_session_model(name)
    st.session_state["_train_go_to_map"] = True


def controls(job: TrainingJob, snap: JobSnapshot) -> None:
    """Stop while it runs (or waits); resume a stopped or finished run, up to a new total of epochs."""
    c1, c2, _ = st.columns([1, 1, 3], vertical_alignment="bottom")
    if snap.active:
        if c1.button("Stop", key="train_stop", icon=":material/stop:",
                     help="Stops after the current step; you can resume."):
            job.stop()
            st.rerun()
    elif snap.status in ("stopped", "finished"):
        done = int(snap.epoch)
        default = max(done + 1, snap.total_epochs if snap.status == "stopped" else snap.total_epochs + 5)
        total = c2.number_input("Total epochs", done + 1, 100_000, default, key="train_resume_epochs")
        if c1.button("Resume", key="train_resume", icon=":material/play_arrow:",
                     help="Continue with the same weights and optimiser state."):
            job.resume(int(total))
            st.rerun()


def live_panel(job: TrainingJob, snap: JobSnapshot) -> None:
    """The step curves redraw every POLL_S seconds (only this fragment, not the page); the per-epoch
    panels (KL per dimension, latent map) redraw when an epoch ends, by rerunning the page then.

    Why not everything every second: each Plotly chart the browser lays out again costs it real CPU
    (measured with the browser on the same 2-core machine: every chart polled once a second slowed
    training there), and these panels change only once an epoch. Short epochs (digits trains a few
    a second) would redraw the page without pause and starve the browser, so a new epoch redraws it
    at most every EPOCH_REDRAW_S seconds; a start or an end redraws it at once.
    """
    polling = snap.active
    drawn_at = time.monotonic()
    # the trainer knows a resumed checkpoint's kind; before it exists (queued), the form's choice
    autoencoder = (not job.trainer.model.is_variational if job.trainer is not None
                   else job.spec.model.get("kind", "vae") != "vae")

    @st.fragment(run_every=POLL_S if polling else None)
    def step_panel() -> None:
        now = job.snapshot()
        new_epoch = epoch_key(now) != epoch_key(snap) and time.monotonic() - drawn_at >= EPOCH_REDRAW_S
        if now.active != polling or new_epoch:
            st.rerun()  # started, ended or a new epoch: the page redraws its buttons and epoch panels
        status_line(now)
        if now.steps["step"]:
            st.plotly_chart(training_curves.curves_figure(now, iwae_k=job.spec.train.iwae_k, autoencoder=autoencoder),
                            key="train_chart_curves", config={"displaylogo": False})

    step_panel()
    epoch_panels(job, snap, variational=not autoencoder)


def epoch_key(snap: JobSnapshot) -> tuple:
    return len(snap.epochs), snap.latent_map.epoch if snap.latent_map else None


def status_line(snap: JobSnapshot) -> None:
    text = STATUS_TEXT.get(snap.status, snap.status)
    rate = f" · {snap.samples_per_sec:,.0f} samples/s" if snap.samples_per_sec else ""
    progress = min(1.0, snap.epoch / max(1, snap.total_epochs))
    st.progress(progress, text=f"{text} · epoch {snap.epoch:.2f} of {snap.total_epochs}{rate}")
    if snap.description:
        st.caption(snap.description)
    for note in snap.notes:
        st.info(note, icon=":material/info:")
    if snap.status == "queued":
        st.warning(snap.message, icon=":material/hourglass_top:")
    elif snap.status in ("diverged", "error"):
        st.error(snap.message, icon=":material/error:")


def epoch_panels(job: TrainingJob, snap: JobSnapshot, variational: bool = True) -> None:
    left, right = st.columns([2, 3])
    if snap.kl_per_dim and not variational:  # an AE's code has no KL; "0 of 2 alive" would misread it
        left.caption("An autoencoder has no posterior and no KL, so there is no per-dimension KL to show.")
    elif snap.kl_per_dim:
        left.plotly_chart(training_curves.kl_dims_figure(snap), key="train_chart_kl_dims",
                          config={"displaylogo": False})
        left.caption(f"Alive (coloured): {ALIVE_RULE}. Not the model card's active dimensions ({ACTIVE_RULE}): "
                     "a dimension can spend KL on a narrower σ while its mean ignores x.")
    with right:
        live_map(job, snap.active)


def live_map(job: TrainingJob, active: bool) -> None:
    """The latest latent map with the model in the page: hover decodes with the current weights, refreshed
    every LIVE_WEIGHTS_S while training (only changed bytes travel; an unchanged payload is not resent)."""

    @st.fragment(run_every=LIVE_WEIGHTS_S if active else None)
    def panel() -> None:
        m = job.snapshot().latent_map
        if m is None:
            return
        title = f"Latent map after epoch {m.epoch} ({len(m.x):,} test images, {m.projection})"
        if m.payload is not None:
            st.markdown(f"**{title}**")
            canvas.mount(m.payload, "train_live_map")
            st.caption(f"Hover to decode with the weights of epoch {m.weights_epoch:.2f} (refreshed every "
                       f"{LIVE_WEIGHTS_S:g} s while it trains). Axes: {m.axis_titles[0]} across, "
                       f"{m.axis_titles[1]} up.")
            return
        st.caption("No hover-decode on this map: the page cannot run this model, so it is drawn on the server.")
        if active:  # a picture: a WebGL chart costs the browser more to set up each epoch
            st.image(plots.scatter_png(list(zip(m.x, m.y)), m.labels, m.classes, size=460, title=title),
                     caption=f"axes: {m.axis_titles[0]} across, {m.axis_titles[1]} up; interactive when "
                             "training ends")
        else:
            fig = plots.latent_scatter(list(zip(m.x, m.y)), m.labels, m.classes, axis_titles=m.axis_titles,
                                       title=title, height=480, ui_revision="train_map")
            st.plotly_chart(fig, key="train_chart_map", config={"displaylogo": False})

    panel()


def results(job: TrainingJob, snap: JobSnapshot) -> None:
    """Save on this server, download, or open the model on the other pages."""
    name = register_result(job, snap)
    if name is None:
        return
    st.subheader("Use the model")
    st.caption(f"It is listed in the sidebar under **Trained here** as “{name}”.")
    save_panel.save_row(job, snap)
    st.button("Explore it on the Latent map", key="train_explore", on_click=explore, args=(name,),
              icon=":material/scatter_plot:")


@st.fragment
def new_training(disabled: bool) -> None:
    """The settings rerun alone while edited; Start reruns the whole page with the live panel."""
    spec = settings_form(disabled)
    if spec is not None:
        browser_jobs.start(spec)
        st.rerun()


st.title("Train a model")
st.caption("Training runs in the background: the other pages stay usable, and this page follows it live. "
           "Each browser trains its own model, and finds it again after a reload.")
st.caption(f"This browser's id: **{browser_jobs.browser_id()}**. If somebody else may be using it, give this id to "
           "your teacher: they can reset it and give you a link that brings your training and saved files back.")
if st.session_state.pop("_train_go_to_map", False):
    st.switch_page("explorer/ui/pages/map.py")
chosen = selection.current()
if chosen is not None and isinstance(chosen.model, ImportedModel):  # nothing here can continue it
    st.info(f"{plain(chosen.name)}, chosen in the sidebar, was trained elsewhere: training and resuming are for models "
            "made here, so this page cannot continue it (train it in its own code and import it again). The form "
            "below trains a new model.", icon=":material/info:")

# Fixed slots: the page's element tree has the same shape before a training, while it runs and after it, and
# what changes is drawn inside them, so a fragment's delta path (and its id) never moves. The white page after
# Start was Streamlit dropping the end of a run (ui/runner_handoff.py fixes that); with one shape, a path that
# held a block in the last run holds a block in this one too, so even a page that missed messages can apply
# the next fragment's.
notice, run_area, form_heading, form_area = st.container(), st.container(), st.container(), st.container()
if st.session_state.pop(browser_jobs.REATTACHED, False):
    notice.info("Your training from before the page was reloaded is here again.", icon=":material/restore:")
job: TrainingJob | None = st.session_state.get(JOB)
snap = job.snapshot() if job is not None else None
if job is not None and snap is not None:  # the run first, so the live curves are on screen
    with run_area:
        controls(job, snap)
        live_panel(job, snap)
        with st.container():
            if not snap.active:
                results(job, snap)
    form_heading.subheader("New training")
if snap is not None and snap.active:
    browser_jobs.show_settings(job.spec)
with form_area:
    new_training(disabled=bool(snap and snap.active))
