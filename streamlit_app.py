"""VAE Explorer: `streamlit run streamlit_app.py`. Wiring only; the maths lives in explorer/."""
import streamlit as st

from explorer import jobs
from explorer.ui import kept, nav, present, runner_handoff, sidebar, trainings
from explorer.ui.text import plain

runner_handoff.install()  # a fragment's rerun waits for the last run's messages (the white page after Start)

st.set_page_config(page_title="VAE Explorer", page_icon="🧭", layout="wide",
                   initial_sidebar_state="collapsed" if present.presenting() else "auto")

try:  # a bad EXPLORER_MAX_TRAININGS, EXPLORER_TRAIN_THREADS or grace is refused at once, not on the first Start
    jobs.threads_per_training(jobs.max_trainings_from_env())
    trainings.grace_from_env()
except ValueError as e:
    st.error(f"This server's settings are wrong, so the app cannot run: {plain(e)}")
    st.stop()

page = st.navigation(nav.pages())
kept.keep_widget_values()  # a Train form or an Interpolate pick survives a visit to another page
trainings.attach()  # a reloaded page finds the training this browser started; an open page keeps it
present.apply()
sidebar.render()
page.run()
