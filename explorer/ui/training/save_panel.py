"""The Train page's save row: a finished model saved on this server (never over somebody else's file or a
bundled model; over one's own only after asking) or downloaded."""
from __future__ import annotations

import streamlit as st

from explorer.jobs import JobSnapshot, TrainingJob
from explorer.store import saves
from explorer.store.saves import AlreadySaved, SaveRefused
from explorer.ui.training import browser_jobs
from explorer.ui.widgets.plain_text import plain

SAVED = "_train_saved"  # the outcome of the last Save click, shown once
CONFIRM = "_train_confirm_overwrite"  # the name of this browser's own file that a Save would replace
NAME_FOR = "_train_save_name_for"  # (job id, run) whose unique default name is in the name box
SAVED_SOURCE = "Saved on this server"


def save_clicked(job: TrainingJob, overwrite: bool = False, name: str | None = None) -> None:
    """Button callback, so the file is written before the sidebar lists the saved folder. `name`: the file the
    person agreed to replace (not whatever the name box holds by then)."""
    raw = name or st.session_state.get("train_save_name") or browser_jobs.new_name(job)
    st.session_state.pop(CONFIRM, None)
    try:
        path = browser_jobs.save(job, raw, overwrite=overwrite)  # atomic: a reader never sees half a file
        st.session_state[SAVED] = ("success", f"Saved {path.name} in {plain(path.parent)}. The sidebar lists it under "
                                              f"{SAVED_SOURCE}.")
    except AlreadySaved:  # this browser's own file: ask first
        st.session_state[CONFIRM] = raw
    except (SaveRefused, OSError, RuntimeError) as e:
        st.session_state[SAVED] = ("error", f"Could not save: {plain(e)}")


def save_row(job: TrainingJob, snap: JobSnapshot) -> None:
    """A unique default name per run; a name this browser used before asks before it is replaced; a name
    somebody else used, or a bundled model, is refused (explorer.store.saves)."""
    if st.session_state.get(NAME_FOR) != (job.id, snap.run):
        st.session_state["train_save_name"] = browser_jobs.new_name(job)
        st.session_state[NAME_FOR] = (job.id, snap.run)
    c1, c2, c3 = st.columns([2, 1, 1], vertical_alignment="bottom")
    c1.text_input(f"File name in {browser_jobs.saves_folder()}", key="train_save_name",
                  help="Saved on this server for everyone here to open; the bundled models are never changed.")
    c2.button("Save on this server", key="train_save", icon=":material/save:", on_click=save_clicked, args=(job,))
    name = saves.clean_name(st.session_state.get("train_save_name") or "", browser_jobs.default_stem(job))
    c3.download_button("Download checkpoint", job.checkpoint_bytes, file_name=name, key="train_download",
                       mime="application/octet-stream", on_click="ignore", icon=":material/download:")
    confirm = st.session_state.get(CONFIRM)
    if confirm:
        st.warning(f"You already saved a model as {saves.clean_name(confirm, 'model')}. Replace it with this one?",
                   icon=":material/warning:")
        o1, o2, _ = st.columns([1, 1, 3])
        o1.button("Replace my file", key="train_save_overwrite", on_click=save_clicked,
                   args=(job, True, confirm))
        o2.button("Keep it", key="train_save_cancel", on_click=lambda: st.session_state.pop(CONFIRM, None))
    saved = st.session_state.pop(SAVED, None)
    if saved:
        (st.success if saved[0] == "success" else st.error)(saved[1])
