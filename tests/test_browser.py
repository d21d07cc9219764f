"""Every notebook, as a learner sees it: JupyterLab in a real (headless) Chromium.

For each file in notebooks/ the test opens it in JupyterLab, clears the outputs, runs all
cells from the Run menu, waits for the status bar to read "| Idle" with every code cell
executed in order, and checks that no cell shows an error. Where the notebook shows slider
panels (a cell ending in ``*_panel()``), it checks that each panel renders its controls and
its picture, moves one control with the keyboard (or picks another dropdown option), and
waits for the picture to change.

One JupyterLab server and one browser serve all notebooks (module-scoped fixtures); each
notebook gets a fresh browser context, its own workspace and its own kernel, shut down
afterwards. A failure leaves a screenshot and a text dump of the page in test-artifacts/.

Needs Debian's Chromium at /usr/bin/chromium (`sudo apt-get install chromium`) and the
`playwright` package (test extras). Without them the test skips, except when the
environment variable CI is "true": there it fails.
"""

from __future__ import annotations

import os
import re
import time
import warnings

import browser_support
import pytest
from browser_support import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    NOTEBOOKS,
    expectations,
    missing_requirement,
    start_lab,
)

NOTEBOOK_PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))

PAGE_TIMEOUT_MS = 60_000  # any single wait: page load, kernel start, a widget, a redraw
RUN_ALL_TIMEOUT_MS = 300_000  # all cells of one notebook (nbval's cell timeout in the Makefile)

CODE_CELLS = ".jp-Notebook .jp-CodeCell"
STDERR = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
ERROR_TEXT = r"Traceback|^\s*\w*(Error|Exception)\b"  # a traceback, or SyntaxError: ... alone

# The page state the waits below look at, as one JavaScript function of no argument.
_PAGE_STATE = f"""() => {{
    const cells = [...document.querySelectorAll('{CODE_CELLS}')];
    const prompts = cells.map(c =>
        (c.querySelector('.jp-InputPrompt')?.textContent || '').trim());
    const status = document.querySelector('#jp-main-statusbar')?.innerText || '';
    const stderr = [];
    cells.forEach((c, i) => c.querySelectorAll('{STDERR}').forEach(o =>
        stderr.push({{cell: i, text: o.innerText}})));
    const broken = [...document.querySelectorAll('.jp-Notebook .jp-OutputArea-output')]
        .filter(o => /Error displaying widget|Failed to render/.test(o.innerText))
        .map(o => o.innerText.slice(0, 300));
    const dialogs = [...document.querySelectorAll('.jp-Dialog')].map(d => d.innerText);
    const sliders = document.querySelectorAll('.jupyter-widgets.widget-slider').length;
    return {{prompts, status, stderr, broken, dialogs, sliders}};
}}"""

# True once Run All has finished: the kernel idle, nothing queued, and either every code
# cell numbered 1, 2, ... in order, or an error shown (Run All stops at the first error).
_RUN_FINISHED = f"""(executed) => {{
    const state = ({_PAGE_STATE})();
    if (/\\|\\s*Dead/.test(state.status)) throw new Error('kernel died: ' + state.status);
    if (state.dialogs.length) return true;
    if (state.prompts.includes('[*]:') || !/\\|\\s*Idle\\b/.test(state.status)) return false;
    if (state.stderr.some(o => /{ERROR_TEXT}/m.test(o.text))) return true;
    return executed.every((cell, k) => state.prompts[cell] === `[${{k + 1}}]:`);
}}"""

_KERNEL_READY = r"""() => {
    const status = document.querySelector('#jp-main-statusbar')?.innerText || '';
    return /\|\s*Idle\b/.test(status) || document.querySelector('.jp-Dialog') !== null;
}"""

_ALL_CLEARED = f"""(executed) => {{
    const cells = [...document.querySelectorAll('{CODE_CELLS}')];
    return cells.length > 0 && cells.every(c =>
        (c.querySelector('.jp-InputPrompt')?.textContent || '').trim() === '[ ]:' &&
        c.querySelectorAll('.jp-OutputArea-output').length === 0);
}}"""

# True once the picture of the panel in code cell `cell` differs from `old`, or once the
# panel shows text instead of a picture (a refused value: "⚠ ..."), which the test reports.
_PICTURE_CHANGED = f"""([cell, old]) => {{
    const out = document.querySelectorAll('{CODE_CELLS}')[cell]?.querySelector('.widget-output');
    const img = out && out.querySelector('img');
    if (img) return !!img.getAttribute('src') && img.getAttribute('src') !== old;
    return !!out && out.innerText.trim() !== '';
}}"""


def require_browser() -> None:
    """Skip when Chromium or playwright is missing; fail instead when CI is "true"."""
    reason = missing_requirement()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and the browser test cannot run: {reason}")
        pytest.skip(reason)


@pytest.fixture(scope="module")
def lab(request):
    """One JupyterLab server for the module, stopped (with its kernels) whatever happens."""
    require_browser()
    failed_before = request.session.testsfailed
    server = start_lab()
    try:
        yield server
    finally:
        if request.session.testsfailed > failed_before:
            print(f"\nJupyterLab's log: {server.keep_log()}")
        server.stop()


@pytest.fixture(scope="module")
def browser(lab):
    """Debian's Chromium, headless, driven by playwright; closed whatever happens."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True, timeout=60_000
        )
        try:
            yield chromium
        finally:
            chromium.close()


class Visit:
    """One notebook open in a fresh browser context; keeps what a failure report needs."""

    def __init__(self, browser, lab, path):
        self.lab, self.path = lab, path
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.context.set_default_timeout(PAGE_TIMEOUT_MS)
        self.page = self.context.new_page()
        self.console: list[str] = []
        self.page.on("pageerror", lambda e: self.console.append(f"page error: {e}"))
        self.page.on(
            "console",
            lambda m: (
                self.console.append(f"console {m.type}: {m.text}") if m.type == "error" else None
            ),
        )
        self.started = time.monotonic()
        self.focus = None  # the cell to scroll into view for a failure screenshot

    def state(self) -> dict:
        return self.page.evaluate(_PAGE_STATE)

    def menu(self, menu: str, item: str) -> None:
        """Click a main-menu entry, as a learner would."""
        self.page.locator(f".lm-MenuBar-itemLabel:text-is('{menu}')").click()
        self.page.locator(f".lm-Menu-itemLabel:text-is('{item}')").click()

    def cell(self, index: int):
        return self.page.locator(CODE_CELLS).nth(index)

    def keep_evidence(self) -> str:
        """Save a screenshot and a text dump of the page; return where they are."""
        ARTIFACTS.mkdir(exist_ok=True)
        stem = ARTIFACTS / f"browser-{self.path.stem}"
        try:
            errors = self.page.locator(f".jp-Notebook {STDERR}")
            focus = self.focus or (errors.first if errors.count() else None)
            if focus is not None:
                focus.scroll_into_view_if_needed(timeout=5_000)
            self.page.screenshot(path=f"{stem}.png", timeout=30_000)
        except Exception as error:  # the page may be gone; the text dump still helps
            print(f"(no screenshot: {error})")
        try:
            text = self.page.locator(".jp-Notebook").inner_text(timeout=10_000)
        except Exception as error:
            text = f"(no text: {error})"
        log = "\n".join(self.console[-30:])
        (stem.with_suffix(".txt")).write_text(f"{text}\n\n--- browser console ---\n{log}\n")
        return f"{stem}.png and {stem}.txt"

    def close(self) -> None:
        try:
            self.context.close()
        finally:
            self.lab.shut_down_kernels_of(self.path.name)


def _describe(state: dict) -> str:
    shown = "\n".join(f"  code cell {o['cell']}: {o['text'][:1500]}" for o in state["stderr"])
    return (
        f"prompts: {' '.join(state['prompts'])}\nstatus bar: {state['status']!r}\n"
        f"stderr outputs:\n{shown or '  none'}"
    )


def _open_and_run_all(visit: Visit, executed: tuple[int, ...]) -> dict:
    page, name = visit.page, visit.path.name
    page.goto(visit.lab.notebook_url(name, workspace=f"test-{visit.path.stem}"))
    page.locator(".jp-NotebookPanel").first.wait_for(state="visible")
    page.wait_for_function(_KERNEL_READY, timeout=PAGE_TIMEOUT_MS * 2)
    print(f"{name}: open with kernel idle after {time.monotonic() - visit.started:.1f} s")
    dialogs = visit.state()["dialogs"]
    assert not dialogs, f"{name}: a dialog stops the learner before anything runs: {dialogs}"

    # Start from a blank page so every count and output seen below comes from this run.
    visit.menu("Edit", "Clear Outputs of All Cells")
    page.wait_for_function(_ALL_CLEARED, arg=list(executed))
    visit.menu("Run", "Run All Cells")
    started = time.monotonic()
    try:
        page.wait_for_function(_RUN_FINISHED, arg=list(executed), timeout=RUN_ALL_TIMEOUT_MS)
    except Exception as error:
        state = visit.state()
        raise AssertionError(
            f"{name}: Run All did not finish in {RUN_ALL_TIMEOUT_MS / 1000:.0f} s "
            f"({type(error).__name__}: {str(error).splitlines()[0]})\n{_describe(state)}"
        ) from None
    print(f"{name}: Run All took {time.monotonic() - started:.1f} s")
    return visit.state()


def _check_no_error(name: str, state: dict, executed: tuple[int, ...]) -> None:
    assert not state["dialogs"], f"{name}: a dialog opened during Run All: {state['dialogs']}"
    errors = [o for o in state["stderr"] if re.search(ERROR_TEXT, o["text"], re.M)]
    assert not errors, (
        f"{name}: code cell {errors[0]['cell']} shows an error (Run All stops there):\n"
        f"{errors[0]['text'][:3000]}"
    )
    numbered = [state["prompts"][i] for i in executed]
    assert numbered == [f"[{k + 1}]:" for k in range(len(executed))], (
        f"{name}: not every code cell ran once, in order:\n{_describe(state)}"
    )
    assert not state["broken"], f"{name}: a widget failed to render: {state['broken']}"
    for o in state["stderr"]:  # warnings a learner sees: reported, not failed
        warnings.warn(
            f"{name}, code cell {o['cell']} writes to stderr: {o['text'][:300]}", stacklevel=2
        )


def _move_one_control(visit: Visit, index: int) -> str:
    """Move the first slider of the panel in code cell ``index`` (or change its dropdown)."""
    cell, name = visit.cell(index), visit.path.name
    visit.focus = cell
    cell.scroll_into_view_if_needed()
    controls = cell.locator(".jupyter-widgets.widget-slider, .jupyter-widgets.widget-dropdown")
    controls.first.wait_for(state="visible")
    picture = cell.locator(".widget-output img").first
    picture.wait_for(state="visible")
    old = picture.get_attribute("src")

    handles = cell.locator(".noUi-handle")
    if handles.count():
        handle = handles.first
        before = float(handle.get_attribute("aria-valuenow"))
        key = "ArrowRight" if before < float(handle.get_attribute("aria-valuemax")) else "ArrowLeft"
        handle.focus()
        handle.press(key)
        moved = f"slider from {before:g} ({key})"
        label = cell.locator(".widget-slider .widget-label").first.inner_text()
    else:
        select = cell.locator(".widget-dropdown select").first
        current = select.input_value()
        options = [o.get_attribute("value") for o in select.locator("option").all()]
        others = [o for o in options if o != current]
        assert others, f"{name}: code cell {index}: the panel's only control has one option"
        select.select_option(others[0])
        moved = f"dropdown from {current!r} to {others[0]!r}"
        label = cell.locator(".widget-dropdown .widget-label").first.inner_text()
    try:
        visit.page.wait_for_function(_PICTURE_CHANGED, arg=[index, old])
        changed = picture.count() > 0 and picture.get_attribute("src") != old
    except Exception:
        changed = False
    if not changed:
        shown = cell.locator(".widget-output").first.inner_text()
        after = handles.first.get_attribute("aria-valuenow") if handles.count() else "?"
        raise AssertionError(
            f"{name}: code cell {index}: moving '{label}' ({moved}, now {after}) did not "
            f"change the picture within {PAGE_TIMEOUT_MS / 1000:.0f} s; the panel's output "
            f"shows: {shown[:500]!r}"
        )
    return f"'{label}' {moved}"


@pytest.mark.browser
@pytest.mark.timeout(900)
@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=lambda p: p.name)
def test_notebook_runs_in_a_real_browser(lab, browser, path):
    expect = expectations(path)
    visit = Visit(browser, lab, path)
    started = time.monotonic()
    try:
        cells = visit.page.locator(CODE_CELLS)
        state = _open_and_run_all(visit, expect.executed)
        assert cells.count() == expect.code_cells, (
            f"{path.name}: the page shows {cells.count()} code cells, the file has "
            f"{expect.code_cells} (is the notebook windowing mode 'none'?)"
        )
        _check_no_error(path.name, state, expect.executed)
        if expect.panels:
            assert state["sliders"] > 0, f"{path.name}: the notebook shows panels but no slider"
        for index in expect.panels:
            print(f"{path.name}: code cell {index}: {_move_one_control(visit, index)}")
    except BaseException:
        print(f"{path.name}: evidence kept in {visit.keep_evidence()}")
        raise
    finally:
        visit.close()
    print(f"{path.name}: {time.monotonic() - started:.1f} s in the browser")


# --- the parts that need no browser ----------------------------------------------------------


def _notebook(tmp_path, *sources: str):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# title")]
    nb.cells += [nbformat.v4.new_code_cell(s) for s in sources]
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    return path


def test_expectations_find_the_cells_that_run_and_the_panels(tmp_path):
    path = _notebook(
        tmp_path,
        "from halab.widgets import timeline_panel",  # 0: runs, imports a panel: no panel
        "timeline_panel()",  # 1: a panel
        "",  # 2: empty: never numbered
        "p = budget_panel()",  # 3: assigned, not shown
        "display(budget_panel(slo=0.99))",  # 4: a panel
        "w.structures_panel();",  # 5: the ; hides it
        "%matplotlib inline",  # 6: a magic: runs, no expectation
        "halab.widgets.failover_panel()",  # 7: a panel through an attribute
    )
    found = expectations(path)
    assert found.code_cells == 8
    assert found.executed == (0, 1, 3, 4, 5, 6, 7)
    assert found.panels == (1, 4, 7)


@pytest.mark.parametrize("ci", ["true", "", None])
def test_a_missing_chromium_skips_with_a_hint_but_fails_in_ci(monkeypatch, tmp_path, ci):
    monkeypatch.setattr(browser_support, "CHROMIUM", tmp_path / "no-chromium")
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    outcome = pytest.fail.Exception if ci == "true" else pytest.skip.Exception
    with pytest.raises(outcome) as raised:
        require_browser()
    assert "sudo apt-get install chromium" in str(raised.value)
