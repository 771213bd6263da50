"""A headless JupyterLab for tests/test_notebook_widget.py: `jupyter lab` in a temporary folder on a free port with
a token, its settings, workspaces and runtime files kept in that folder (nothing of the user's is read or written),
the news and update checks off, and window.jupyterapp exposed so the test can run cells and kernel code."""
from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from tests.browser_harness import REPO, free_port


def missing_jupyterlab() -> str | None:
    """Why the notebook test cannot run here, or None when it can."""
    for name in ("jupyterlab", "anywidget", "ipykernel"):
        try:
            __import__(name)
        except ImportError:
            return f"the {name} package is not installed (pip install -r requirements-dev.txt)"
    return None


def write_notebook(path: Path, cells: list[str]) -> Path:
    """A notebook of code cells (nbformat 4), unexecuted."""
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                          "language": "python"}},
          "cells": [{"cell_type": "code", "id": f"c{i}", "metadata": {}, "execution_count": None, "outputs": [],
                     "source": src} for i, src in enumerate(cells)]}
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path


class LabServer:
    """`jupyter lab` in root (its own process group); stop() ends it and its kernels."""

    def __init__(self, root: Path, log_path: Path | None = None):
        self.root, self.log_path = root, log_path
        self.port, self.token = free_port(), secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def _env(self) -> dict[str, str]:
        home = self.root / ".jupyter-home"
        settings = home / "settings" / "@jupyterlab" / "apputils-extension"
        settings.mkdir(parents=True, exist_ok=True)  # no "news?" toast over the notebook, no update check
        (settings / "notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False}))
        return {**os.environ, "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
                "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"), "JUPYTERLAB_WORKSPACES_DIR": str(home / "ws"),
                "IPYTHONDIR": str(home / "ipython"), "OMP_NUM_THREADS": "1",
                "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}

    def start(self, timeout: float = 180.0) -> "LabServer":
        log = open(self.log_path, "w") if self.log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", f"--IdentityProvider.token={self.token}",
             f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1",
             f"--ServerApp.root_dir={self.root}", "--ServerApp.terminals_enabled=False",
             "--LabApp.extension_manager=readonly", "--LabApp.expose_app_in_browser=True"],
            cwd=self.root, env=self._env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with code {self.proc.returncode}; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"jupyter lab did not answer on {self.url} within {timeout:.0f}s")

    def notebook_url(self, name: str) -> str:
        return f"{self.url}/lab/tree/{name}?token={self.token}&reset"

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)  # its own session: the server and the kernels it started
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def __enter__(self) -> "LabServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


# page.evaluate snippets: JupyterLab's own API through window.jupyterapp (expose_app_in_browser)
RUN_ALL = "() => window.jupyterapp.commands.execute('notebook:run-all-cells')"
KERNEL_IDLE = """() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
    return !!k && k.status === 'idle'; }"""
# code run in the notebook's kernel (not as a cell); resolves to what it printed
EXECUTE = """async (code) => {
    const k = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
    const f = k.requestExecute({ code, store_history: false });
    let out = '';
    f.onIOPub = (msg) => {
        const t = msg.header.msg_type;
        if (t === 'stream') out += msg.content.text;
        if (t === 'error') out += msg.content.ename + ': ' + msg.content.evalue;
    };
    await f.done;
    return out; }"""
