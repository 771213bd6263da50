"""Where t-SNE and UMAP say how far they are, turned into a callback per iteration or epoch.

t-SNE: scikit-learn's optimiser loop (sklearn.manifold._t_sne._gradient_descent, private) calls its objective
once per iteration; a wrapper installed once counts those calls for the thread that asked (other threads pass
through). If a scikit-learn version changes that function's shape, the hook is not installed and callers
report stages only. UMAP: its public tqdm_kwds reach the epochs' tqdm bar; a file object reads "n/total".
"""
from __future__ import annotations

import inspect
import re
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

_local = threading.local()
_lock = threading.Lock()
_HOOK = "_vae_explorer_hook"


def _install_tsne_hook() -> bool:
    try:
        from sklearn.manifold import _t_sne

        original = _t_sne._gradient_descent
        if getattr(original, _HOOK, False):
            return True
        if list(inspect.signature(original).parameters)[:4] != ["objective", "p0", "it", "max_iter"]:
            return False
    except (ImportError, AttributeError, TypeError, ValueError):
        return False

    def hooked(objective, p0, it, max_iter, *args, **kwargs):
        tick = getattr(_local, "tsne", None)
        if tick is None:
            return original(objective, p0, it, max_iter, *args, **kwargs)
        done = [it]

        def counted(p, *a, **k):  # one call per iteration
            done[0] += 1
            tick(done[0])
            return objective(p, *a, **k)

        return original(counted, p0, it, max_iter, *args, **kwargs)

    setattr(hooked, _HOOK, True)
    _t_sne._gradient_descent = hooked
    return True


@contextmanager
def tsne_iterations(tick: Callable[[int], None]) -> Iterator[bool]:
    """Call tick(iteration) on each t-SNE iteration fitted in this thread; yields whether that is possible."""
    with _lock:
        ok = _install_tsne_hook()
    _local.tsne = tick if ok else None
    try:
        yield ok
    finally:
        _local.tsne = None


class _EpochFile:
    """What tqdm writes with bar_format "{n}/{total}", read back as tick(n, total)."""

    def __init__(self, tick: Callable[[int, int], None]):
        self.tick = tick

    def write(self, text: str) -> int:
        found = re.findall(r"(\d+)/(\d+)", text)
        if found:
            self.tick(int(found[-1][0]), int(found[-1][1]))
        return len(text)

    def flush(self) -> None:
        pass


def umap_tqdm_kwds(tick: Callable[[int, int], None]) -> dict:
    """UMAP(tqdm_kwds=...) that calls tick(epoch, epochs) as its layout is optimised."""
    return {"disable": False, "file": _EpochFile(tick), "bar_format": "{n}/{total}", "mininterval": 0.25,
            "ascii": True}
