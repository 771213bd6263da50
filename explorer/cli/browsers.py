"""`browsers reset ID`: a teacher resets a student's browser (its cookie may have been copied) and gets a
one-time link that gives that student a fresh cookie with the browser's saved files and running training."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..store import browsers, saves


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("browsers", help="reset a browser of the app whose cookie somebody else may hold")
    acts = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    r = acts.add_parser("reset", help="refuse a browser's token from now on; print a claim link for its owner",
                        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    r.add_argument("browser_id", help="the id the Train page shows for that browser (8 hex digits)")
    r.add_argument("--url", default="http://localhost:8501",
                   help="the app's address as the student opens it (the link is URL/train?claim=CODE)")
    r.add_argument("--saves-dir", default=None,
                   help=f"the server's saves folder (default: {saves.SAVES_ENV}, else saved/ in the repository)")
    r.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    folder = Path(args.saves_dir) if args.saves_dir else saves.saves_dir()
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"the saves folder {folder} is a file, not a folder")
    code = browsers.revoke(folder, args.browser_id)
    print(f"Browser {args.browser_id.strip().lower()} is reset: its cookie, and any copy of it, no longer opens its "
          f"training or replaces its files (in {folder / browsers.BROWSERS}; the server must use this saves folder).")
    print("Give this link to the student at that browser. It works once, and gives them a new cookie with their "
          "saved files and their training, if it is still running:")
    print(f"  {args.url.rstrip('/')}/train?{browsers.CLAIM_PARAM}={code}")  # the Train page: where the training is
    return 0
