"""The app's pages, each at a readable URL (/map, /decoder, /interpolate, /maths, /train, /lesson). A URL that names
none of them gets Streamlit's "Page not found" message, then the map."""
from __future__ import annotations

import streamlit as st

# (file, title, icon, url path); "/" opens the first
PAGES = [
    ("explorer/ui/pages/map.py", "Latent map", ":material/scatter_plot:", "map"),
    ("explorer/ui/pages/decoder.py", "Decoder sliders", ":material/tune:", "decoder"),
    ("explorer/ui/pages/interpolate.py", "Interpolate", ":material/swap_horiz:", "interpolate"),
    ("explorer/ui/pages/maths.py", "The maths, live", ":material/functions:", "maths"),
    ("explorer/ui/pages/train.py", "Train", ":material/fitness_center:", "train"),
    ("explorer/ui/pages/lesson.py", "A guided lesson", ":material/school:", "lesson"),
]


def pages() -> list:
    """The pages for st.navigation. Streamlit serves its default page at / only, so / is a hidden page that
    opens the map at /map (keeping the query, e.g. ?present=1)."""
    shown = [st.Page(f, title=t, icon=i, url_path=u) for f, t, i, u in PAGES]

    def home() -> None:
        st.switch_page(shown[0], query_params=st.query_params.to_dict())

    return [st.Page(home, title="VAE Explorer", url_path="home", default=True, visibility="hidden"), *shown]
