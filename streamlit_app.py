"""VAE Explorer: `streamlit run streamlit_app.py`. Wiring only; the maths lives in explorer/."""
import streamlit as st

from explorer.ui import nav, present, sidebar, state, trainings

st.set_page_config(page_title="VAE Explorer", page_icon="🧭", layout="wide",
                   initial_sidebar_state="collapsed" if present.presenting() else "auto")

page = st.navigation(nav.pages())
state.keep_widget_values()  # a Train form or an Interpolate pick survives a visit to another page
trainings.attach()  # a reloaded page finds the training this browser started
present.apply()
sidebar.render()
page.run()
