"""The explorers in a real browser: JupyterLab (headless, 127.0.0.1, a token) serves a copy of
`nbs/15_explorers.ipynb`, Chromium (through Playwright) runs every cell and checks that no cell shows an error; then, in
each explorer (seed 000's latent walk, seed 002's art, seed 003's retrieval, seed 001's student beside its teacher, seed 004's
attention maps),
that the widget rendered, and that moving one of its sliders a step changed a drawn image (the hash of its `img` source).

Skips only when no Chromium binary is found (`apt-get install -y chromium`; or set `MMGEN_CHROMIUM` to a binary);
everything else that goes wrong (no widgets, no redraw, a cell error) fails. Playwright is driven with the system's
Chromium, so `playwright install` (a browser download) is never needed."""
import hashlib, json, os, re, shutil, socket, subprocess, sys, time, uuid
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / 'nbs' / '15_explorers.ipynb'
CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
                 '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage']
RUN_TIMEOUT_S = 600  # the notebook runs with IN_TEST (smoke sizes); a busy 2-core machine needs slack (at load 8 on 2 cores, 300 s was not enough)


def chromium_path() -> str | None:
    "The Chromium binary to drive: $MMGEN_CHROMIUM, else the Debian package's, else one on PATH (Google Chrome too)."
    for c in (os.environ.get('MMGEN_CHROMIUM'), '/usr/bin/chromium', shutil.which('chromium'), shutil.which('chromium-browser'),
              shutil.which('google-chrome')):
        if c and Path(c).exists(): return c
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]


@pytest.fixture
def chromium() -> str:
    "The Chromium binary, or a skip (the only reason this test skips)."
    path = chromium_path()
    if path is None: pytest.skip('no Chromium binary (apt-get install -y chromium, or set MMGEN_CHROMIUM)')
    return path


@pytest.fixture
def lab(tmp_path):
    "A headless JupyterLab serving a copy of the notebook (the repository's copy is never saved over): yields (url, token, log path)."
    root = tmp_path / 'root'; root.mkdir()
    nb = json.loads(NOTEBOOK.read_text())
    # as nbdev-test does: cells under a test flag (`#| slow`, `#| cuda`) and `#| eval: false` cells do not run
    skip = re.compile(r'^\s*#\|\s*(slow|cuda|eval:\s*false)\s*$', re.M)
    nb['cells'] = [c for c in nb['cells'] if not (c['cell_type'] == 'code' and skip.search(''.join(c['source'])))]
    nb['metadata']['kernelspec'] = {'name': 'python3', 'display_name': 'Python 3 (ipykernel)', 'language': 'python'}
    (root / NOTEBOOK.name).write_text(json.dumps(nb))
    settings = tmp_path / 'settings' / '@jupyterlab'
    for ext, name, value in (('apputils-extension', 'notification', {'fetchNews': 'false', 'checkForUpdates': False}),  # no news toast
                             ('notebook-extension', 'tracker', {'windowingMode': 'none'})):  # every cell in the DOM, not only those on screen
        (settings / ext).mkdir(parents=True, exist_ok=True)
        (settings / ext / f'{name}.jupyterlab-settings').write_text(json.dumps(value))
    token, port = uuid.uuid4().hex, free_port()
    env = dict(os.environ, IN_TEST='1', PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get('PYTHONPATH', '')]).rstrip(os.pathsep),
               JUPYTER_CONFIG_DIR=str(tmp_path / 'config'), JUPYTER_RUNTIME_DIR=str(tmp_path / 'runtime'),
               JUPYTERLAB_SETTINGS_DIR=str(tmp_path / 'settings'), JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / 'workspaces'),
               MPLBACKEND='agg')
    cmd = [sys.executable, '-m', 'jupyterlab', '--no-browser', '--ip=127.0.0.1', f'--port={port}', f'--IdentityProvider.token={token}',
           f'--ServerApp.root_dir={root}', '--ServerApp.open_browser=False', '--LabApp.news_url=None']
    if hasattr(os, 'geteuid') and os.geteuid() == 0: cmd.append('--allow-root')
    log = tmp_path / 'lab.log'
    proc = subprocess.Popen(cmd, env=env, cwd=root, stdout=open(log, 'w'), stderr=subprocess.STDOUT)
    url = f'http://127.0.0.1:{port}'
    try:
        for _ in range(240):   # up to 60 s to answer
            if proc.poll() is not None: pytest.fail(f'JupyterLab exited ({proc.returncode}):\n{log.read_text()[-3000:]}')
            try:
                with socket.create_connection(('127.0.0.1', port), timeout=0.5): break
            except OSError: time.sleep(0.25)
        else: pytest.fail(f'JupyterLab did not listen on {url} within 60 s:\n{log.read_text()[-3000:]}')
        yield url, token, log
    finally:
        proc.terminate()
        try: proc.wait(20)
        except subprocess.TimeoutExpired: proc.kill()


def img_hashes(page, scope:str='') -> list[str]:
    "Hashes of the src of every image in the notebook's outputs, or inside `scope` (a CSS selector); widget images are blob: or data: URLs."
    srcs = page.eval_on_selector_all(f'.jp-OutputArea-output {scope} img'.replace('  ', ' '), 'els => els.map(e => e.src)')
    return [hashlib.sha256(s.encode()).hexdigest()[:16] for s in srcs]


# each explorer's widget carries the CSS class mmgen-<its class name>; the label of the slider the test moves in it
EXPLORERS = [('.mmgen-latentexplorer', 't'), ('.mmgen-artexplorer', 'seed'), ('.mmgen-retrievalexplorer', 'pair'),
             ('.mmgen-distilledexplorer', 'scene'), ('.mmgen-attentionexplorer', 'query')]


def step_slider(page, scope:str, label:str) -> str:
    "Press ArrowRight on the slider labelled `label` inside `scope`; wait until an image inside `scope` changes. Returns a line saying what moved and how fast."
    box = page.locator(f'{scope} .widget-slider').filter(has=page.locator('.widget-label', has_text=re.compile(f'^{re.escape(label)}$'))).first
    handle, readout = box.locator('.noUi-handle'), box.locator('.widget-readout')
    handle.wait_for(timeout=30_000)      # the widget rendered (ipywidgets 8's slider)
    handle.scroll_into_view_if_needed()
    before, r0 = img_hashes(page, scope), readout.inner_text()
    assert before, f'{scope}: no images drawn'
    handle.focus(); t0 = time.time()
    page.keyboard.press('ArrowRight')    # one slider step
    deadline, after = time.time() + 30, before
    while time.time() < deadline and after == before:
        after = img_hashes(page, scope); time.sleep(0.05)
    assert readout.inner_text() != r0, f'{scope}: the {label} slider did not move (readout {r0!r})'
    assert after != before, f'{scope}: moving the {label} slider did not change any drawn image'
    return f'{scope} {label} {r0} -> {readout.inner_text()}: image changed {1e3 * (time.time() - t0):.0f} ms after the key press'


def test_explorers_in_chromium(chromium, lab):   # chromium first: without it, skip before starting JupyterLab
    from playwright.sync_api import sync_playwright   # a dev dependency: missing, the test fails
    url, token, log = lab
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={'width': 1400, 'height': 1000})
            page.goto(f'{url}/lab/tree/{NOTEBOOK.name}?token={token}', timeout=120_000)
            status = page.locator('.jp-StatusBar-TextItem', has_text='Python 3 (ipykernel) | Idle')
            status.first.wait_for(timeout=120_000)   # the kernel exists and is idle (the toolbar says idle earlier)
            for no in page.locator('.jp-toast-button', has_text='No').all(): no.click()   # "Jupyter news?" toast, if shown
            page.locator('.lm-MenuBar-itemLabel', has_text='Run').first.click()
            page.locator('.lm-Menu-item[data-command="runmenu:run-all"]').click()
            t0 = time.time()
            # run-all has finished when no cell is queued or running ([*]) and the kernel is idle again
            page.wait_for_function("""() => {
                const prompts = [...document.querySelectorAll('.jp-InputArea-prompt')].map(e => e.textContent);
                const idle = [...document.querySelectorAll('.jp-StatusBar-TextItem')].some(e => e.textContent.includes('| Idle'));
                return prompts.length > 0 && !prompts.some(t => t.includes('*')) && prompts.some(t => /\\d/.test(t)) && idle;
            }""", timeout=RUN_TIMEOUT_S * 1000, polling=500)
            run_s = time.time() - t0
            err_text = page.eval_on_selector_all('.jp-OutputArea-output', """els => els.filter(e =>
                e.querySelector('[data-mime-type="application/vnd.jupyter.error"]') || e.innerText.includes('Traceback (most recent call last)')
            ).map(e => e.innerText.slice(0, 800))""")   # warnings on stderr are not errors
            assert not err_text, f'cells show errors:\n' + '\n---\n'.join(err_text)
            unexecuted = page.eval_on_selector_all('.jp-CodeCell .jp-InputArea-prompt', "els => els.filter(e => !/\\d/.test(e.textContent)).length")
            assert unexecuted == 0, f'{unexecuted} code cells did not run'
            lines = [step_slider(page, scope, label) for scope, label in EXPLORERS]
            print(f'run all cells {run_s:.1f} s; per explorer (browser -> kernel -> browser, polled every 50 ms):\n' + '\n'.join(lines))
        finally:
            browser.close()
