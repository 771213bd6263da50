"""Progress of long work, as a callback the core calls and each front end draws: the CLI a tqdm bar on
stderr, the app a progress bar. The core never imports a front end."""
from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Callable, Iterator

Progress = Callable[[float, str], None]  # (fraction done in [0, 1], what is being done, in words)


def report(progress: Progress | None, fraction: float, text: str) -> None:
    if progress is not None:
        progress(min(1.0, max(0.0, float(fraction))), text)


@contextmanager
def tqdm_bar(quiet: bool = False) -> Iterator[Progress | None]:
    """A Progress that moves a tqdm bar on stderr (percent, with the text as its description); None if quiet."""
    if quiet:
        yield None
        return
    from tqdm import tqdm

    bar = tqdm(total=100, file=sys.stderr, dynamic_ncols=True, bar_format="{desc} {percentage:3.0f}%|{bar}| {elapsed}")

    def update(fraction: float, text: str) -> None:
        bar.set_description_str(text, refresh=False)
        bar.update(round(100 * fraction) - bar.n)

    try:
        yield update
    finally:
        bar.close()
