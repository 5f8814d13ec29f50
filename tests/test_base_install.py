"""`pip install mmgen` without extras: every module imports, `mmgen list` sees the five systems, and an optional peer
that is missing is named with the extra that installs it. CI installs `[dev]`, so the check is made here by hiding every
installed package that the base dependencies (`pyproject.toml`'s `dependencies`, and theirs) do not bring.
"""
import importlib.metadata as md, pkgutil, re, subprocess, sys
from pathlib import Path
import pytest

tomllib = pytest.importorskip('tomllib')   # Python >= 3.11
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / 'pyproject.toml').read_text())['project']

def base_closure() -> set:
    "Canonical names of the distributions `pip install mmgen` brings: the base dependencies and theirs, markers evaluated."
    seen, todo = set(), [Requirement(d) for d in PROJECT['dependencies']]
    while todo:
        r = todo.pop()
        n = canonicalize_name(r.name)
        if n in seen: continue
        seen.add(n)
        try: reqs = md.requires(r.name) or []
        except md.PackageNotFoundError: continue
        for s in reqs:
            q = Requirement(s)
            if q.marker is None or q.marker.evaluate({'extra': ''}): todo.append(q)
    return seen

def hidden_modules() -> set:
    "Top-level modules of installed distributions that a base install would not have."
    keep = base_closure()
    return {m for m, dists in md.packages_distributions().items()
            if m != 'mmgen' and m not in sys.stdlib_module_names and not any(canonicalize_name(d) in keep for d in dists)}

BLOCKER = """
import sys, importlib.abc
HIDDEN = set({hidden!r})
class Hide(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split('.')[0] in HIDDEN: raise ModuleNotFoundError(f"No module named {{name!r}}", name=name.split('.')[0])
sys.meta_path.insert(0, Hide())
"""

def run_base(code:str) -> subprocess.CompletedProcess:
    "Run `code` in a fresh interpreter that cannot import what a base install lacks."
    src = BLOCKER.format(hidden=sorted(hidden_modules())) + code
    return subprocess.run([sys.executable, '-c', src], capture_output=True, text=True, cwd=ROOT, timeout=300)

def test_hidden_set_is_real():
    "The check hides the dev and extra packages (else it could not fail)."
    h = hidden_modules()
    for m in ('nbdev', 'pytest', 'vector_quantize_pytorch'): assert m in h, (m, 'is not hidden: the check would be blind')
    for m in ('torch', 'open_clip', 'PIL', 'safetensors'): assert m not in h, (m, 'is a base dependency but hidden')

def test_every_module_imports_on_a_base_install():
    import mmgen
    mods = [f'mmgen.{m.name}' for m in pkgutil.iter_modules(mmgen.__path__) if not m.name.startswith('_')]
    r = run_base(f"""
import importlib
bad = []
for m in {mods!r}:
    try: importlib.import_module(m)
    except Exception as e: bad.append(f'{{m}}: {{type(e).__name__}}: {{e}}')
from mmgen.cli import load_systems
print(sorted(load_systems()))
assert not bad, chr(10).join(bad)
""")
    assert r.returncode == 0, r.stderr[-3000:]
    assert all(s in r.stdout for s in ('captioner', 'distilled', 'paired-retrieval', 'shared-latent', 'vq-art')), r.stdout

def test_requires_names_declared_extras():
    "Every `requires(module, extra)` in the library names an extra that pyproject.toml declares and that installs it."
    extras = PROJECT['optional-dependencies']
    calls = [m for p in (ROOT / 'mmgen').glob('*.py') for m in re.findall(r"requires\('([\w.]+)', '(\w+)'", p.read_text())]
    assert calls, 'no requires() call found: the pattern is stale'
    dists = md.packages_distributions()
    for module, extra in calls:
        assert extra in extras, (module, extra, sorted(extras))
        brings = {canonicalize_name(Requirement(s).name) for s in extras[extra]}
        installed = dists.get(module.split('.')[0], [canonicalize_name(module.split('.')[0])])   # not installed here: its own name
        assert any(canonicalize_name(d) in brings for d in installed), (module, extra, sorted(brings))

def test_missing_extra_is_named():
    "vq-art's library quantizer on a base install: one UserError naming `mmgen[vq]`, not a ModuleNotFoundError."
    r = run_base("""
from mmgen.core import UserError
from mmgen.vq_art import LibQuantizer
from mmgen.vq_art_deploy import TextProbe
for make in (lambda: LibQuantizer('vq'), lambda: TextProbe('distilbert', 100)):
    try: make()
    except UserError as e: print('refused:', e)
""")
    assert r.returncode == 0, r.stderr[-3000:]
    lines = r.stdout.splitlines()
    assert len(lines) == 2 and all("pip install 'mmgen[vq]'" in l for l in lines), r.stdout

def test_smoke_preset_trains_on_a_base_install(tmp_path):
    "`mmgen train vq-art --set preset=smoke` (README: any system's smoke preset trains) needs no extra: vq-art is the one system with an optional peer (the other four's smoke runs need nothing outside the base dependencies either, by construction: they import no extra)."
    r = run_base(f"""
import torch; torch.set_num_threads(1)
from mmgen.cli import main
raise SystemExit(main(['train', 'vq-art', '--set', 'preset=smoke', '--set', 'progress=False', '--out', {str(tmp_path / 'vq')!r}]))
""")
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    assert (tmp_path / 'vq' / 'metrics.json').exists(), r.stdout[-2000:]
