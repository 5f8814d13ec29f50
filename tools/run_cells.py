"""Execute chosen cells of a notebook, on top of its exported library module, and write their outputs back.

    python tools/run_cells.py nbs/10_shared_latent.ipynb 34226344,6d99af53 --back 6d99af53
    python tools/run_cells.py nbs/10_shared_latent.ipynb 8d636a88,d5434bc2 --set "slow_dir=Path('/tmp/run')" --set N_TRAIN=20000

What `nbdev-test --flags cuda --save` does for a whole notebook, for a few cells: on a short GPU lease it skips the
notebook's CPU-sized cells (minutes), and a slow cell can be re-executed against a run folder that a slow pass saved
before. The namespace is the notebook's `default_exp` module (`from mmgen.X import *`, private names too, so it
must be in sync: run `nbdev-export` first; a notebook that exports nothing, like a lab record, gets no module: name its
import cells first) plus what `--set` assigns; the cells run in the order given, in one
kernel (execnb's CaptureShell, as nbdev-test uses). A cell that raises stops the run and nothing is written back,
unless `--each`: then the outputs of every cell that finished are written back as it finishes (a long chain loses
nothing on a crash).
"""
import argparse, copy, json, re, sys, time
from pathlib import Path
from execnb.shell import CaptureShell
from fastcore.xtras import dict2obj

p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
p.add_argument('notebook'); p.add_argument('cells', help='cell ids to run, comma-separated, in order')
p.add_argument('--back', help='cell ids whose outputs are written into the notebook (default: every cell run)')
p.add_argument('--set', action='append', default=[], metavar='NAME=EXPR', help='assign before the cells run (repeatable)')
p.add_argument('--each', action='store_true', help='write each cell\'s outputs back as soon as it finishes')
p.add_argument('--no-write', action='store_true', help='write nothing back (a rehearsal: the ids exist, the cells run)')
a = p.parse_args()
path = Path(a.notebook)
nb = json.loads(path.read_text())
byid = {c.get('id'): c for c in nb['cells']}
ids, back = a.cells.split(','), (a.back or a.cells).split(',')
if missing := [i for i in ids + back if i not in byid]: sys.exit(f"no cell with id {missing} in {path}")
mod = next((m.group(1) for c in nb['cells'] if (m := re.search(r'^#\|\s*default_exp\s+(\S+)', ''.join(c['source']), re.M))), None)
pre = ([f"import importlib as _il; _m = _il.import_module('mmgen.{mod}')",
        "globals().update({k: v for k, v in vars(_m).items() if not k.startswith('__')})"] if mod else []   # a notebook that exports nothing (a lab record): name its import cells first
       ) + ["from pathlib import Path"] + a.set
cells = [dict(cell_type='code', id='_pre_', metadata={}, source='\n'.join(pre), outputs=[], execution_count=None)]
cells += [dict(copy.deepcopy(byid[i]), source=''.join(byid[i]['source']), outputs=[]) for i in ids]
run = dict2obj(dict(cells=cells))
for k, c in enumerate(run.cells): c.idx_ = k
def write_back(done:dict):
    if a.no_write: return
    nb = json.loads(path.read_text())   # re-read: write back into the notebook as it is now
    for c in nb['cells']:
        if c.get('id') in back and c['id'] in done: c['outputs'] = json.loads(json.dumps([dict(o) for o in done[c['id']].outputs], default=dict))
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n')

sh, t0, done = CaptureShell(), time.time(), {}
for c in run.cells:
    t = time.time(); sh.cell(c)
    print(f"{c.id}: {time.time() - t:.0f} s", flush=True)
    for o in c.outputs:
        if o.get('output_type') == 'error':
            print(''.join(o['traceback'])[-4000:])
            if a.each and done: print(f"kept the outputs of {', '.join(i for i in done if i in back)} (--each)")
            sys.exit(1)
        if o.get('output_type') == 'stream': print(''.join(o['text'])[-3000:])
        if o.get('output_type') == 'execute_result':
            d = o['data']; print(str(d.get('text/markdown', d.get('text/plain', '')))[-3000:])
    done[c.id] = c
    if a.each and c.id in back: write_back(done)
write_back(done)
print(f"{'ran' if a.no_write else 'wrote the outputs of'} {', '.join(back)}{'' if a.no_write else f' into {path}'} ({time.time() - t0:.0f} s in all)")
