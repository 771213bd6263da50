"""Latent map: the encoded test set, the decoder under the pointer, one chosen image in detail, the manifold."""
from __future__ import annotations

import streamlit as st

from explorer.figures.images import grid
from explorer.latent.geometry import manifold_latents
from explorer.model.encoding import decode_images
from explorer.model.latent_model import LatentModel
from explorer.ui.map import canvas, extras, holes as map_holes, point_panel, points, projector, tools, view, view_3d
from explorer.ui.state import caches, map_points, selection, user_images, widget_memory
from explorer.ui.state.current_model import Current
from explorer.ui.state.once_per_message import once_per_message
from explorer.ui.widgets import draw_panel, guards, pictures
from explorer.ui.widgets.plain_text import plain
from explorer.web import received
from explorer.web.panels import star_mark

MAP_KEY = "latent_map"
CANVAS_KEY = "latent_canvas"
# this page only: less empty margin around the main block, so the map gets the width and the fold's height
_TIGHT = ("<style>.stMainBlockContainer { padding-top: 2.5rem; padding-left: 1.5rem; padding-right: 1.5rem; }"
          f".st-key-{CANVAS_KEY}{canvas.MARKS_SUFFIX} {{ display: none; }}"  # the marks' element draws nothing
          "</style>")


@st.cache_data(show_spinner="Decoding the manifold…", max_entries=64)
def manifold_png(_model: LatentModel, key: str, dataset: str, n: int) -> tuple[bytes, str]:
    """The n x n decoded grid as a PNG, and what its axes are."""
    enc = caches.encoding(_model, key, dataset)
    z, caption = manifold_latents(n, _model.latent_dim, enc.mean, variational=_model.is_variational)
    return pictures.png(grid(decode_images(_model, z), nrow=n), 560), caption


MANIFOLD_N = 15  # the manifold grid's default size, n x n
PICK_REFUSED = "_map_pick_refused"  # a click that failed its check, shown once by the map's fragment


def picked() -> None:
    """The map's click, before the fragment reruns: a dot's index, or a z clicked on empty space."""
    cur = selection.current()
    if cur is None:
        return
    result = st.session_state.get(CANVAS_KEY)  # the component's value, under its widget key
    sent = getattr(result, "pick", None)
    pick = received.clean_pick(sent, view.points_drawn(), cur.model.latent_dim)
    if pick and "index" in pick:
        selection.choose_index(pick["index"])
    elif pick:
        selection.choose_z(pick["z"])
    elif sent is not None:  # only a forged message gets here; say so once, beside the map
        st.session_state[PICK_REFUSED] = (f"The map sent a click that is not "
                                          f"{received.pick_rule(view.points_drawn(), cur.model.latent_dim)}; "
                                          "it was ignored.")


_ON_PICK = once_per_message("map_pick", picked)  # a message of many clicks is read once: its last click wins
_ON_SELECT = once_per_message("map_select", lambda: tools.on_select(CANVAS_KEY))


def selected_mark(md: view.MapData, sel: int, z: list[float] | None = None) -> tuple[float, ...] | None:
    """The chosen image's (or a chosen z's) star on this map: star_mark with the map's data."""
    return star_mark(md.proj, md.coords, md.enc.mean, md.enc.std, sel, z)


def _server_map_input(chart_key: str, n: int) -> int | None:
    """The server-drawn map's box or lasso and click (the newly chosen index, or None), read before the
    tools under the map use them."""
    tools.take_plotly_selection(chart_key, n)
    clicked = view.consume_click(chart_key)
    if clicked is not None:
        selection.choose_index(clicked)
    return clicked


@st.fragment
def map_and_choice(cur: Current, data, method: str, n: int, holes: bool = False, test=None) -> None:
    """The map and the chosen point beside it: a click reruns only this fragment. data: the map's points (the
    test split, or map_points'); test: the test split, which the prior's holes (holes: shade them) are fitted to."""
    md = view.load(cur, data, method, n)
    sel = selection.index_on_map(cur.key, len(data.test_x))
    chosen_z = selection.chosen_z(cur.model.latent_dim)
    why = canvas.unsupported(cur.model)
    chart_key = f"{MAP_KEY}:{cur.key}:{method}:{n}"  # the server-drawn map's; a new map starts with no selection
    if map_points.is_points(data.name):
        chart_key += f":{data.name}"
    if why is not None and (clicked := _server_map_input(chart_key, md.n)) is not None:
        sel, chosen_z = clicked, None
    if refused := st.session_state.pop(PICK_REFUSED, None):
        st.warning(refused)
    left, right = st.columns([5, 2], gap="small")  # the map takes the page; the chosen point beside it
    image = chosen_z is None and not selection.shows_drawing()  # the tools work from a chosen test image
    marks = projector.tools(cur, data, md, sel if image else None,  # drawn below the map, read first
                                selected_mark(md, sel) if image else None)
    with left:
        marks["highlight"] = tools.highlighted()
        labels = data.test_y[:md.n].numpy() if data.test_y is not None else None
        if why is None:
            view.set_points_drawn(md.n)
            shade = map_holes.grid(cur, test or data, md) if holes else None
            canvas.render(cur.model, cur.key, md.proj, method, md.coords, labels, md.enc.mean[:md.n],
                                 selected_mark(md, sel, chosen_z), widget_key=CANVAS_KEY,
                                 on_pick=_ON_PICK, marks=marks, thumbs=tools.thumbs(data, md.n),
                                 on_select=_ON_SELECT, holes=shade)
            if shade is not None:
                st.caption(map_holes.caption(shade[1]))
            st.caption(f"Hover to decode: {canvas.hover_note(md.proj, cur.model)}. Click a dot to choose "
                       "that image (the nearest dot wins), or empty space to keep that z. Drag to pan, Ctrl + "
                       "wheel or the buttons to zoom, double-click to reset, PNG saves the view; the legend "
                       "hides labels. Zoomed in to a few hundred points, each is drawn as its test image, or as "
                       "its posterior mean decoded in this page (the “zoomed in” menu). “box” and “lasso” select "
                       "points for the Selection tool below.")
            x_title, y_title = md.proj.axis_titles()
            st.caption(f"Axes: {x_title} across, {y_title} up, one unit as long on both." + _class_note(data))
        else:
            st.caption(f"The decoder runs on the server for this model ({why}); click a dot to inspect it, or "
                       "use the box or lasso in the chart's toolbar to select points for the Selection tool."
                       + (" The prior's holes are shaded on the in-page map only." if holes else ""))
            view.selectable_chart(view.figure(cur, data, md, selected=sel), chart_key,
                                     modes=("points", "box", "lasso"))
        if not md.proj.inductive:
            st.caption("t-SNE places only the points it was fitted on; pick by index beyond them.")
    with right:
        _beside(cur, data, md, sel, chosen_z)


def _beside(cur: Current, data, md: view.MapData, sel: int, chosen_z: list[float] | None) -> None:
    """Beside the map: the chosen point, the drawing pad and the 3-D view."""
    # the drawing pad (the encoder and decoder, 4.3 MB for mnist_vae2) and the 3-D view (a figure of every point,
    # re-sent with each new choice) are built only while their tab is open: not in every page that opens the map
    chosen, draw, view3d = st.tabs(["Chosen point", "Draw your own", "3-D view"], key="map_beside",
                                   on_change="rerun")
    with view3d:
        if view3d.open:
            view_3d.render(cur, data, md, sel)
    with draw:
        if draw.open:
            st.caption("Draw a digit: the encoder runs in this page as you draw, and its point (a white dot ringed "
                       "in black, with its 1σ ellipse for a VAE) moves on the map. “Use it” hands it to this panel "
                       "and to the Interpolate and maths pages.")
            if draw_panel.render(cur, data) is not None:
                selection.show_drawing()
                st.rerun(scope="fragment")  # the map above was drawn with the old choice's marks: draw it again
    with chosen:
        if st.session_state.get("map_index") != sel:
            st.session_state["map_index"] = sel  # a click on the map moves the index box too
        label = ("Point index (test images first, or the codes file's order; or click a dot)"
                 if map_points.is_points(data.name) else "Test image index (or click a dot on the map)")
        st.number_input(label, 0, len(data.test_x) - 1, key="map_index",
                        on_change=lambda: selection.choose_index(int(st.session_state["map_index"])))
        drawn = draw_panel.current(tuple(cur.model.config.image_shape))
        if selection.shows_drawing() and drawn is not None:
            point_panel.render_drawn(cur, *drawn)
        elif chosen_z is not None:
            point_panel.render_z(cur, chosen_z)
        else:
            point_panel.render(cur, data, sel)


def _class_note(data) -> str:
    """The legend shows label numbers (only numbers go to the page); name them when they are not digits."""
    names = list(data.classes or [])
    if not names or names == [str(i) for i in range(len(names))]:
        return ""
    return " Labels: " + ", ".join(f"{i} {name}" for i, name in enumerate(names)) + "."


def _which(data, shown) -> str:
    """The map's points in words, for the line under the title."""
    if shown is not data:
        train, test = bool(shown.from_train.any()), bool((~shown.from_train).any())
        parts = "images of both splits (test, then training)" if train and test else (
            "training images" if train else "test images")
        codes = " (their codes read from the uploaded file, in its order)" if "@codes-" in shown.name else ""
        return f"{len(shown.test_x):,} {plain(data.name)} {parts}{codes}"
    if user_images.is_user_images(data.name):
        return f"{len(data.test_x):,} of your images"
    if data.test_from:  # trained on the first test images (MNIST without its training files): only the rest
        return (f"{len(data.test_x):,} {data.name.split('[')[0]} test images it did not train on (from image "
                f"{data.test_from:,} of the standard test split; the map's indices count from there)")
    return f"{len(data.test_x):,} {data.name} test images"


cur = guards.require_model()
data = guards.require_data(cur)  # the test split: the samples, the manifold and the models side by side use it
st.title("Latent map")
intro = st.empty()

st.html(_TIGHT)
controls, highlight = st.columns([5, 2], gap="small")
with controls:
    shown = points.choose(cur, data)  # the map's points: data itself, or a training split, both, a codes file
    is_points = shown is not data
    if selection.set_map_points(shown.name if is_points else ""):
        tools.clear_selection()  # a box or lasso held indices of the other points
    what = "Points" if is_points else "Test images"
    method, n = view.controls(cur, len(shown.test_x), "map", points=shown.name if is_points else "", what=what)
    holes = map_holes.toggle(cur)
with highlight:
    tools.highlight(shown)
intro.caption(f"**{plain(cur.name)}**: each dot is one of the {_which(data, shown)}, placed at the mean of its "
              "posterior q(z|x) and coloured by its label. The model runs in this page: point anywhere and see "
              "what it decodes there.")
map_and_choice(cur, shown, method, n, holes, data)

# Below the map, one tab at a time: only the open tab is built. A class opening the map at once shares the
# machine's CPU, and every element a page draws costs its browser; the map comes first (benchmarks/map_open.py).
# Their widgets keep their values while another tab is open (widget_memory).
manifold_tab, samples_tab, compare_tab, export_tab = st.tabs(extras.BELOW, key=widget_memory.key("map_below"),
                                                                    on_change="rerun")
with manifold_tab:
    if manifold_tab.open:
        g_left, _ = st.columns([2, 3])
        with g_left:
            g = st.slider("Manifold grid size", 5, 25, MANIFOLD_N, key=widget_memory.key("manifold_n"))
            png, caption = manifold_png(cur.model, cur.key, data.name, g)
            st.image(png, caption=f"Decoded manifold: {caption}", width="stretch", output_format="PNG")
with samples_tab:
    if samples_tab.open:
        extras.samples(cur, data)
with compare_tab:
    if compare_tab.open:
        extras.compare(cur, data, method, min(n, len(data.test_x)))
with export_tab:
    if export_tab.open:
        png, _ = manifold_png(cur.model, cur.key, data.name, st.session_state.get("manifold_n", MANIFOLD_N))  # kept
        extras.exports(cur, shown, view.load(cur, shown, method, n), png)
