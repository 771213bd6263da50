"""VAE Explorer: `streamlit run streamlit_app.py`. Wiring only; the maths lives in explorer/."""
import streamlit as st

from explorer import jobs
from explorer.ui import sidebar, state
from explorer.ui.text import plain

st.set_page_config(page_title="VAE Explorer", page_icon="🧭", layout="wide")

try:  # a bad EXPLORER_MAX_TRAININGS or EXPLORER_TRAIN_THREADS is refused at once, not on the first Start
    jobs.threads_per_training(jobs.max_trainings_from_env())
except ValueError as e:
    st.error(f"This server's settings are wrong, so the app cannot run: {plain(e)}")
    st.stop()

PAGES = [
    st.Page("explorer/ui/page_map.py", title="Latent map", icon=":material/scatter_plot:", default=True),
    st.Page("explorer/ui/page_decoder.py", title="Decoder sliders", icon=":material/tune:"),
    st.Page("explorer/ui/page_interpolate.py", title="Interpolate", icon=":material/swap_horiz:"),
    st.Page("explorer/ui/page_maths.py", title="The maths, live", icon=":material/functions:"),
    st.Page("explorer/ui/page_train.py", title="Train", icon=":material/fitness_center:"),
]

page = st.navigation(PAGES)
state.keep_widget_values()  # a Train form or an Interpolate pick survives a visit to another page
sidebar.render()
page.run()
