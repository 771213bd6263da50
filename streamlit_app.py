"""VAE Explorer: `streamlit run streamlit_app.py`. Wiring only; the maths lives in explorer/."""
import streamlit as st

from explorer.ui import sidebar, state, trainings

st.set_page_config(page_title="VAE Explorer", page_icon="🧭", layout="wide")

PAGES = [
    st.Page("explorer/ui/page_map.py", title="Latent map", icon=":material/scatter_plot:", default=True),
    st.Page("explorer/ui/page_decoder.py", title="Decoder sliders", icon=":material/tune:"),
    st.Page("explorer/ui/page_interpolate.py", title="Interpolate", icon=":material/swap_horiz:"),
    st.Page("explorer/ui/page_maths.py", title="The maths, live", icon=":material/functions:"),
    st.Page("explorer/ui/page_train.py", title="Train", icon=":material/fitness_center:"),
]

page = st.navigation(PAGES)
state.keep_widget_values()  # a Train form or an Interpolate pick survives a visit to another page
trainings.attach()  # a reloaded page finds the training this browser started
sidebar.render()
page.run()
