"README.md must be what tools/readme.py renders from nbs/index.ipynb, and its Quick start must be two commands."
import re, runpy, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def test_readme_matches_index():
    render = runpy.run_path(str(ROOT/'tools'/'readme.py'))['render']
    assert (ROOT/'README.md').read_text() == render(), 'README.md is stale: run `python tools/readme.py`'

def quick_start() -> list[str]:
    txt = (ROOT/'README.md').read_text()
    block = re.search(r'## Quick start\s*```sh\n(.*?)```', txt, re.S).group(1)
    return [l for l in block.splitlines() if l.strip()]

def test_quick_start_is_two_commands():
    cmds = quick_start()
    assert len(cmds) == 2, cmds
    assert 'mmgen train' in cmds[0]

def test_ci_runs_readme_test_command():
    "`.ci/run` must run exactly the README's test command."
    ci = (ROOT/'.ci'/'run').read_text()
    assert quick_start()[1] in ci
