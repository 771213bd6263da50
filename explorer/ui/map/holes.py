"""The Latent map's "Show the prior's holes" toggle: for a VAE with a 2-D latent, the map shades where the
prior p(z) has more density than the aggregate posterior q(z) (explorer.latent.holes), the regions whose prior
draws decode to nothing like the data."""
from __future__ import annotations

import streamlit as st

from explorer.latent.holes import Holes, extent, prior_holes
from explorer.model.latent_model import LatentModel
from explorer.ui.map.view import MapData
from explorer.ui.state import caches
from explorer.ui.state.current_model import Current

TOGGLE_KEY = "map_holes"
DEFAULT_COMPONENTS = 10  # the Samples section's slider (gmm_k) starts here: the two share one fitted mixture


@st.cache_data(show_spinner="Finding the prior's holes…", max_entries=16)
def holes(_model: LatentModel, key: str, dataset: str, n_components: int,
          ext: tuple[float, float, float, float]) -> Holes:
    """The prior's holes on a 2-D map (explorer.latent.holes), against the mixture the Samples section draws from."""
    return prior_holes(caches.mixture(_model, key, dataset, n_components), ext)


def why_not(cur: Current) -> str | None:
    """Why the holes are not offered for this model, or None."""
    if not cur.model.is_variational:
        return "an autoencoder has no prior p(z), so there is nothing for its codes to leave uncovered"
    if cur.model.latent_dim != 2:
        return (f"p(z) and q(z) live in {cur.model.latent_dim} dimensions, and a projected map cannot show "
                "where one has density the other lacks")
    return None


def toggle(cur: Current) -> bool:
    """The toggle (off by default), or a line saying why it is not offered; whether the holes are shown."""
    why = why_not(cur)
    if why is not None:
        st.caption(f"The prior's holes are shown for a VAE with a 2-D latent only: {why}.")
        return False
    return st.toggle("Show the prior's holes", key=TOGGLE_KEY,
                     help="Shade the map where the prior p(z) = N(0, I) has more density than the aggregate "
                          "posterior q(z) (a Gaussian mixture fitted to z ~ q(z|x) of the test images): prior "
                          "samples from there decode to blends or noise.")


def grid(cur: Current, data, md: MapData) -> tuple[str, Holes]:
    """The holes over the prior's 3.5 sigma and the drawn points, with a key naming them for the payload's cache."""
    k, ext = components(), extent(md.coords)
    return f"{cur.key}:{data.name}:{k}:{ext}", holes(cur.model, cur.key, data.name, k, ext)


def components() -> int:
    """The mixture's components: the Samples section's slider, so the two share one fitted q(z)."""
    return int(st.session_state.get("gmm_k", DEFAULT_COMPONENTS))


def caption(holes: Holes) -> str:
    """What the shading is, under the map."""
    k = components()
    return (f"Shaded: the prior's holes, where p(z) = N(0, I) is denser than q(z) (a {k}-component mixture "
            "fitted to z ~ q(z|x), as in Samples below), darker as max(0, p − q) grows. In all the shading holds "
            f"{100 * holes.mass:.0f}% of the prior's mass: the share q does not cover (the total variation "
            "between p and q).")
