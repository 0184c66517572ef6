"""The HTML timeline in a real headless Chromium: it loads without console errors, draws its
lanes (the script records what it drew on <body>, read back with --dump-dom), answers hover
and redraws fast after zooming (the page's #selftest), and its screenshot is not blank.

Chromium comes from the system packages (`.ci/run` installs it; the README says so); where it
is missing or cannot start, the tests skip and say why.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import time
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
from profile_cases import many_commands_result, swin_result

from tpusim.profile.html import timeline_html

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-extensions",
         "--no-first-run", "--no-default-browser-check", "--mute-audio", "--hide-scrollbars"]


def _find() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def _run(browser: str, profile: Path, *args: str, timeout: float = 90):
    return subprocess.run([browser, *FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> str:
    path = _find()
    if path is None:
        pytest.skip("no Chromium on this machine (.ci/run installs it: apt-get install "
                    "chromium)")
    page = tmp_path_factory.mktemp("probe") / "probe.html"
    page.write_text("<html><body><script>document.body.id = 'ok'</script></body></html>")
    try:
        proc = _run(path, tmp_path_factory.mktemp("profile"), "--dump-dom", page.as_uri(),
                    timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"Chromium at {path} does not start: {exc}")
    if 'id="ok"' not in proc.stdout:
        pytest.skip(f"Chromium at {path} does not run pages: {proc.stderr.strip()[-300:]}")
    return path


def _load(browser: str, page: Path, tmp_path: Path) -> tuple[dict[str, str], str, float]:
    """Open the page with its self-test; the <body> attributes, the console log, seconds."""
    began = time.perf_counter()
    proc = _run(browser, tmp_path / "profile", "--enable-logging=stderr", "--v=0",
                "--dump-dom", page.as_uri() + "#selftest")
    seconds = time.perf_counter() - began
    body = re.search(r"<body([^>]*)>", proc.stdout)
    assert body, f"no DOM dumped: {proc.stderr[-500:]}"
    attrs = {k: html.unescape(v) for k, v in re.findall(r'([\w-]+)="([^"]*)"', body.group(1))}
    console = "\n".join(line for line in proc.stderr.splitlines() if ":CONSOLE" in line)
    return attrs, console, seconds


def _screenshot(browser: str, page: Path, tmp_path: Path) -> np.ndarray:
    shot = tmp_path / "shot.png"
    _run(browser, tmp_path / "profile2", "--window-size=1400,900", f"--screenshot={shot}",
         page.as_uri())
    assert shot.exists(), "Chromium wrote no screenshot"
    return matplotlib.image.imread(shot)[..., :3]


@pytest.mark.parametrize("case", ["swin-t f32", "30000 commands"])
def test_page_renders_in_chromium(case, browser, tmp_path, simple_chip):
    result = swin_result("f32") if case == "swin-t f32" else many_commands_result(simple_chip)
    page = tmp_path / "timeline.html"
    page.write_text(timeline_html([result]), encoding="utf-8")
    attrs, console, seconds = _load(browser, page, tmp_path)
    assert not console, f"console output:\n{console}"
    assert int(attrs["data-commands"]) == len(result.records)
    assert int(attrs["data-drawn"]) > 100  # bars drawn in the first frame
    assert "TIU #" in attrs["data-hover"] and "GDMA #" in attrs["data-hover"]
    assert "layers:" in attrs["data-hover"]
    if result.program.groups:  # the local-memory map answers hover with a buffer's place
        assert "LMEM map:" in attrs["data-hover"] and "per lane at" in attrs["data-hover"]
    assert float(attrs["data-redraw-ms-max"]) < 250, attrs  # zooming stays interactive
    print(f"{case}: {page.stat().st_size} bytes, ready {attrs['data-ready-ms']} ms after "
          f"navigation, script {attrs['data-script-ms']} ms of which first draw "
          f"{attrs['data-draw-ms']} ms, slowest redraw "
          f"{attrs['data-redraw-ms-max']} ms, browser run {seconds:.1f} s")
    pixels = _screenshot(browser, page, tmp_path)
    assert pixels.std() > 0.05  # not a blank page
    timeline = pixels[150:500, 120:1380]  # the lanes: many distinct colours
    assert len(np.unique((timeline * 255).astype(int).reshape(-1, 3), axis=0)) > 50
