"""Every name a cell or a module uses is defined: ruff's undefined-name rules (F821-F823, `[tool.ruff]` in pyproject.toml)
over the notebooks, the library, the tools and the tests. `nbdev-test` skips the `#| slow` and `#| cuda` cells, so a name
that a later edit removed from a notebook's imports fails there only on the next long run or GPU lease; this finds it here."""
import json, subprocess, sys
from pathlib import Path
import pytest

pytest.importorskip('ruff')   # in the [dev] extras
ROOT = Path(__file__).resolve().parents[1]

def ruff_check(*paths) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-m', 'ruff', 'check', '--no-cache', '--output-format', 'concise',
                           '--config', str(ROOT / 'pyproject.toml'), *map(str, paths)], cwd=ROOT, capture_output=True, text=True)

def test_every_name_is_defined():
    p = ruff_check('nbs', 'mmgen', 'tools', 'tests')
    assert p.returncode == 0, f"undefined names (a cell or module uses a name nothing defines):\n{p.stdout}{p.stderr}"

def test_a_cuda_cells_undefined_name_is_found(tmp_path):
    "The check reads notebooks cell by cell, `#| cuda` cells included, and knows the kernel's own names (`display`)."
    cell = lambda src, i: dict(cell_type='code', id=f'c{i}', metadata={}, outputs=[], execution_count=None, source=src)
    nb = dict(nbformat=4, nbformat_minor=5, metadata={}, cells=[
        cell("import torch\nfrom mmgen.evaluation import md_table\n%matplotlib inline", 0),
        cell("#| cuda\nif torch.cuda.is_available():\n    display(md_table([[score_objects(1)]], ['x']))", 1)])
    (path := tmp_path / 'gpu_cell.ipynb').write_text(json.dumps(nb))
    p = ruff_check(path)
    assert p.returncode == 1 and "Undefined name `score_objects`" in p.stdout, p.stdout + p.stderr
    assert p.stdout.count('F821') == 1, p.stdout   # `display`, `torch`, `md_table` and the magic are not reported

def test_gpu_plan_names_cells_that_exist():
    "tools/gpu_plan.txt (what a GPU lease runs) names cells each notebook has, and writes back only `#| cuda` cells' outputs."
    lines = [l.split() for l in (ROOT / 'tools/gpu_plan.txt').read_text().splitlines() if l.strip() and not l.lstrip().startswith('#')]
    assert lines and all(len(l) in (4, 5) and (len(l) == 4 or l[4].isdigit()) for l in lines), lines
    for call, nb, cells, back, *_ in lines:
        byid = {c.get('id'): ''.join(c['source']) for c in json.loads((ROOT / nb).read_text())['cells']}
        assert not (missing := [i for i in cells.split(',') + back.split(',') if i not in byid]), f"{nb} has no cells {missing} (call {call})"
        assert set(back.split(',')) <= set(cells.split(',')), f"call {call}: {nb} writes back cells it does not run"
        assert all(byid[i].startswith('#| cuda') for i in back.split(',')), f"call {call}: {nb} writes back a cell that is not `#| cuda`"

def test_library_uses_what_it_imports():
    "No module imports a name it never uses (ruff F401/F841): the leftovers of moving code between modules, which hide what a module depends on."
    p = subprocess.run([sys.executable, '-m', 'ruff', 'check', '--no-cache', '--output-format', 'concise', '--select', 'F401,F841',
                        '--exclude', 'mmgen/_modidx.py', 'mmgen'], cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 0, f"unused imports or names in the library (remove them in the notebook's export cell; a name only a test cell uses goes to a hide cell):\n{p.stdout}{p.stderr}"

def test_gpu_plan_cells_have_their_names(tmp_path):
    "Each call of tools/gpu_plan.txt runs its cells with the notebook's `default_exp` module's names only (tools/run_cells.py), "
    "not the notebook's other cells: every name the cells use is the module's or one the listed cells define (ruff F821 over the cells as run)."
    import importlib, re
    lines = [l.split() for l in (ROOT / 'tools/gpu_plan.txt').read_text().splitlines() if l.strip() and not l.lstrip().startswith('#')]
    for k, (call, nb, cells, *_) in enumerate(lines):
        src = json.loads((ROOT / nb).read_text())['cells']
        mod = next(m.group(1) for c in src if (m := re.search(r'^#\|\s*default_exp\s+(\S+)', ''.join(c['source']), re.M)))
        names = sorted(n for n in vars(importlib.import_module(f'mmgen.{mod}')) if n.isidentifier() and not n.startswith('__'))
        byid = {c.get('id'): c for c in src}
        cell = lambda s, i: dict(cell_type='code', id=f'c{i}', metadata={}, outputs=[], execution_count=None, source=s)
        run = [cell(f"from mmgen.{mod} import ({', '.join(names)})\nfrom pathlib import Path", 'pre')]   # what run_cells.py puts in the namespace
        run += [cell(''.join(byid[i]['source']), i) for i in cells.split(',')]
        (path := tmp_path / f'call{call}_{k}.ipynb').write_text(json.dumps(dict(nbformat=4, nbformat_minor=5, metadata={}, cells=run)))
        p = subprocess.run([sys.executable, '-m', 'ruff', 'check', '--no-cache', '--output-format', 'concise', '--select', 'F821',
                            '--config', str(ROOT / 'pyproject.toml'), str(path)], cwd=ROOT, capture_output=True, text=True)
        assert p.returncode == 0, f"GPU plan call {call} ({nb}) would stop on a name its cells do not define (add the cell that imports it to the call):\n{p.stdout}"

def star_misses(*paths) -> list[str]:
    "The names ruff can only call 'maybe defined by a star import' (F405) that none of the file's star-imported modules exports."
    import importlib, re
    p = subprocess.run([sys.executable, '-m', 'ruff', 'check', '--no-cache', '--output-format', 'json', '--select', 'F405',
                        '--config', str(ROOT / 'pyproject.toml'), *map(str, paths)], cwd=ROOT, capture_output=True, text=True)
    def exported(mod):
        m = importlib.import_module(mod)
        return set(getattr(m, '__all__', [n for n in vars(m) if not n.startswith('_')]))
    bad = []
    for f in json.loads(p.stdout or '[]'):
        name, path = re.search(r'`(\w+)`', f['message']).group(1), Path(f['filename'])
        mods = {('mmgen' + m if m.startswith('.') else m) for m in re.findall(r'from\s+(\.?[\w.]+)\s+import\s+\*', path.read_text())}
        if not any(name in exported(m) for m in mods): bad.append(f"{path.name} {f['location']['row']}: {name} (star imports: {', '.join(sorted(mods))})")
    return bad

def test_star_imported_names_exist(tmp_path):
    "Where a file star-imports (03_train and mmgen.train: `from mmgen.checkpoints import *`), ruff reports a name as F405, not F821, so the check above "
    "misses a name those imports no longer bring: here every such name is in one of the star-imported modules' `__all__`."
    assert not (bad := star_misses('nbs', 'mmgen', 'tools', 'tests')), "names no star import brings:\n" + '\n'.join(bad)
    (f := tmp_path / 'uses_star.py').write_text("from mmgen.checkpoints import *\nprint(load_weights, History, no_such_name)\n")
    test = star_misses(f)
    assert len(test) == 1 and 'no_such_name' in test[0], test   # the check tells a name the module exports from one it does not
