"""Whether the page can run a model, as a reason or None, never an exception: a model the page's check does not
know (one imported from elsewhere, while explorer/web learns to pack it) is decoded on the server instead, with
the one-line note, rather than ending the page in a traceback."""
from __future__ import annotations

from explorer.model.latent_model import LatentModel
from explorer.ui.widgets.plain_text import plain
from explorer.web import payload


def unsupported(model: LatentModel) -> str | None:
    """explorer.web.payload.unsupported(model); whatever it raises becomes the reason."""
    try:
        return payload.unsupported(model)
    except Exception as e:  # noqa: BLE001 - any failure of the check means: not in the page
        return f"the page cannot run this model ({type(e).__name__}: {plain(str(e)[:160])})"


def cannot_run(model: LatentModel) -> str | None:
    """explorer.web.payload.cannot_run(model) (whether any page can run it, this server's setting aside: an
    exported file); whatever it raises becomes the reason."""
    try:
        return payload.cannot_run(model)
    except Exception as e:  # noqa: BLE001 - any failure of the check means: not in a page
        return f"the page cannot run this model ({type(e).__name__}: {plain(str(e)[:160])})"
