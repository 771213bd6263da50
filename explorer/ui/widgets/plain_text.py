"""Text from a file (a checkpoint's name or metadata, an uploaded file's name, an error quoting either)
for Streamlit elements that render Markdown: shown as the text it is.

`![t](http://host/track.png)` in a file name would otherwise make every browser that shows it fetch that
URL. CommonMark lets a backslash escape any ASCII punctuation, which also defuses links, HTML, $maths$ and
Streamlit's :color[...] and :icon: extensions.
"""
from __future__ import annotations

import re
import string

_PUNCTUATION = re.compile("([" + re.escape(string.punctuation) + "])")


def plain(text: object) -> str:
    """str(text) with every ASCII punctuation character backslash-escaped, and on one line."""
    return _PUNCTUATION.sub(r"\\\1", " ".join(str(text).split()))
