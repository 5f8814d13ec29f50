"""`mmgen train NAME` for every system besides the captioner (tested in test_cli.py), through the command line: stopped by
Ctrl-C (SIGINT) at a random step, resumed with the command its one line prints, killed (SIGKILL) at a random later step,
resumed again with --resume, it ends step for step as the uninterrupted run, through each of its stages (`fit`s): every
history.json (losses, learning rates, epoch rows with validation) and every saved weight file agree, within tolerances.

Each system runs tiny (sizes and steps through `--set`). To keep the file cheap (about 55 s of CPU for the four), one
process (`_signal_cli.py`, which imports only that system's module) runs the reference, then the run stopped by Ctrl-C,
then the command that Ctrl-C's line prints, which is killed; a fresh process resumes to the end. So the Ctrl-C'd run
goes on in the process it stopped in, while the kill's run goes on in a fresh one: what a SIGINT adds per system (status
130, the one line and its command, a state to go on from) is checked here for each; going on in a
fresh process after Ctrl-C is the shared `fit`/CLI path that test_cli.py tests for the captioner and the tiny system.
`MMGEN_TEST_STEPS=k1,k2` replays one draw (Ctrl-C after step k1, the kill k2 steps into the resumed run).
"""
import json, os, random, signal, subprocess, sys
from pathlib import Path
import pytest, torch
from safetensors.torch import load_file

HERE = Path(__file__).resolve().parent
S = lambda **kw: [a for k, v in kw.items() for a in ('--set', f'{k}={v}')]
SYSTEMS = {  # name -> (module, tiny options, optimiser steps of all its stages)
    'shared-latent': ('mmgen.shared_latent', ['--epochs', '2', *S(preset='smoke', n_train=32, n_eval=16, batch_size=8, decoder_steps=4,
                                                                   prior_steps=4, probe_scenes=(60, 20), progress=False)], 2 * 4 + 4 + 4),
    'distilled': ('mmgen.distilled', ['--epochs', '2', *S(preset='smoke', n_train=64, n_valid=32, n_test=16, batch_size=16, teacher_batch=16,
                                                           teacher_epochs=1, progress=False, verbose=False)], 4 + 2 * 4),
    'vq-art': ('mmgen.vq_art', S(preset='smoke', n_train=64, n_test=16, vq_steps=6, prior_steps=6, batch_size=16, progress=False), 6 + 6),
    'paired-retrieval': ('mmgen.paired_retrieval', ['--epochs', '2', *S(preset='smoke', n_train=128, n_valid=32, n_test=32, d_model=32,
                                                                         n_layers=1, d_ff=64, text_d_model=32, verbose=False)], 2 * 4),
}

def in_one_process(module:str, plan:list, timeout=600) -> tuple[int, list, str]:
    "Run `plan` (see _signal_cli.py) in one process: (exit status, each command's {'rc', 'stderr'}, the process's stderr)."
    p = subprocess.run([sys.executable, str(HERE / '_signal_cli.py'), module, json.dumps(plan)], capture_output=True, text=True,
                       env=dict(os.environ, OMP_NUM_THREADS='1'), timeout=timeout)
    return p.returncode, [json.loads(l) for l in p.stdout.splitlines() if l.startswith('{"rc"')], p.stderr[-3000:]

def outputs(out:Path) -> tuple[dict, dict]:
    "Every stage's per-step (loss, lr) and per-epoch numbers (validation included, times left out), and every weight file a run left, by path inside `out`."
    def rows(h:dict) -> list:
        return [v for r in h['steps'] for v in (r['loss'], r['lr'])] + [float(v) for r in h['epochs'] for k, v in sorted(r.items()) if k != 'seconds']
    return ({str(f.relative_to(out)): rows(json.loads(f.read_text())) for f in out.rglob('history.json')},
            {str(f.relative_to(out)): load_file(f) for f in out.rglob('*.safetensors')})

@pytest.mark.parametrize('name', SYSTEMS)
def test_stopped_and_resumed(name, tmp_path):
    "Ctrl-C after step k1 (one line, status 130), its printed command killed k2 steps later, then --resume: the uninterrupted run's histories and weights."
    module, opts, steps = SYSTEMS[name]
    rnd = random.Random()
    k1, k2 = map(int, os.environ['MMGEN_TEST_STEPS'].split(',')) if os.environ.get('MMGEN_TEST_STEPS') else (k := rnd.randint(1, steps - 2), rnd.randint(1, steps - 1 - k))
    ref, run = tmp_path / 'ref', tmp_path / 'run'
    train = lambda out, *more: ['train', name, '--out', str(out), *opts, *more]
    rc, res, err = in_one_process(module, [dict(argv=train(ref)), dict(argv=train(run, '--save-every', '2'), at=k1, signal='SIGINT'),
                                           dict(go_on=[], at=k2, signal='SIGKILL')])
    assert rc == -signal.SIGKILL and len(res) == 2, (name, k1, k2, rc, res, err)
    assert res[0]['rc'] == 0, (name, res[0], err)
    stop = res[1]['stderr']
    assert res[1]['rc'] == 130 and stop.count('\n') == 1 and 'Traceback' not in stop, (name, k1, stop)
    assert stop.startswith('mmgen: stopped by Ctrl-C at step') and f'go on with: mmgen train {name} --out {run}' in stop and stop.rstrip().endswith('--save-every 2 --resume'), stop   # the printed command keeps the save cadence
    rc, res, err = in_one_process(module, [dict(argv=train(run, '--resume'))])
    assert rc == 0 and res[0]['rc'] == 0, (name, k1, k2, rc, res, err)
    (h_ref, w_ref), (h, w) = outputs(ref), outputs(run)
    note, went_on = json.loads((run / 'metrics.json').read_text())['resumed'], [r for f in run.rglob('history.json') for r in json.loads(f.read_text())['resumes']]
    assert json.loads((ref / 'metrics.json').read_text())['resumed'] is None and not [f for f in ref.rglob('history.json') if json.loads(f.read_text())['resumes']], name
    assert (note is not None and note.startswith('resumed: ')) == bool(went_on), (name, k1, k2, note, went_on)   # metrics say so when a stage went on from a save
    if name == 'shared-latent': assert 'this process alone' in note, note   # and, for this one, that its times are the resuming process's
    assert sum(len(json.loads(f.read_text())['steps']) for f in ref.rglob('history.json')) == steps, h_ref   # every stage saved its history
    assert h.keys() == h_ref.keys() and w.keys() == w_ref.keys(), (name, sorted(h), sorted(h_ref), sorted(w), sorted(w_ref))
    for f in h_ref: torch.testing.assert_close(torch.tensor(h[f], dtype=torch.float64), torch.tensor(h_ref[f], dtype=torch.float64), rtol=1e-4, atol=1e-6, equal_nan=True, msg=lambda m: f'{name} {f} (k1={k1}, k2={k2}): {m}')
    for f in w_ref:
        assert w[f].keys() == w_ref[f].keys(), (name, f)
        for t in w_ref[f]: torch.testing.assert_close(w[f][t], w_ref[f][t], rtol=1e-4, atol=1e-6, msg=lambda m: f'{name} {f} {t} (k1={k1}, k2={k2}): {m}')
