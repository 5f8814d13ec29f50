"""`mmgen train` from a terminal: a run stopped by SIGKILL, Ctrl-C (SIGINT) or SIGTERM at a random step goes on with `--resume`,
step for step the uninterrupted run; refusals (a folder holding a run, other options on resume, a corrupt state file,
bad input) are one line, without a traceback. Each case runs the real command in a subprocess.
"""
import json, os, random, re, shlex, signal, subprocess, sys, time
from pathlib import Path
import pytest, torch

HERE = Path(__file__).resolve().parent
CLI = (f"import sys; sys.path.insert(0, {str(HERE)!r}); import _tiny_system, mmgen.cli as cli; "
       "cli.SYSTEM_MODULES.clear(); sys.exit(cli.main(sys.argv[1:]))")   # only the tiny system: no system module to import
STEPS = 2 * 3 * 4   # two stages x 3 epochs x 4 steps (64 samples, batch 8, grad_accum 2)

def mmgen(*args, env=None, timeout=120):
    "Run `mmgen ARGS` (with the tiny system registered); returns the CompletedProcess."
    e = dict(os.environ, OMP_NUM_THREADS='1', **(env or {}))
    return subprocess.run([sys.executable, '-c', CLI, *map(str, args)], capture_output=True, text=True, env=e, timeout=timeout,
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))   # Ctrl-C as a terminal delivers it: a shell's background job (`cmd &`) inherits SIGINT ignored, and Python then keeps ignoring it

def history(out:Path) -> tuple[list, list]:
    "Per-step losses and lrs of both stages, from the files the run left."
    rows = [r for s in 'ab' for r in json.loads((out / s / 'history.json').read_text())['steps']]
    return [r['loss'] for r in rows], [r['lr'] for r in rows]

@pytest.fixture(scope='module')
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp('ref')
    r = mmgen('train', 'tiny', '--out', out)
    assert r.returncode == 0, r.stderr
    h = history(out)
    assert len(h[0]) == STEPS
    return h

def one_line(err:str): assert err.count('\n') == 1 and 'Traceback' not in err, err

def test_sigkill_then_resume(reference, tmp_path):
    "SIGKILL at a random step (saves every 2 steps): --resume loses at most 1 step and ends step for step as the reference."
    k = int(os.environ.get('MMGEN_TEST_STEP') or random.Random().randint(2, STEPS - 1))   # MMGEN_TEST_STEP=k replays one
    r = mmgen('train', 'tiny', '--out', tmp_path, '--save-every', 2, env={'TINY_SIGNAL': f'{k}:SIGKILL'})
    assert r.returncode == -signal.SIGKILL, (k, r.returncode, r.stderr)
    r = mmgen('train', 'tiny', '--out', tmp_path, '--save-every', 2, '--resume')
    assert r.returncode == 0, (k, r.stderr)
    assert history(tmp_path) == reference, f'killed at step {k}'

def test_ctrl_c_then_resume(reference, tmp_path):
    "Ctrl-C at a random step: one line (where, what was saved, the command to go on), status 130, that step saved; --resume equals the reference."
    k = int(os.environ.get('MMGEN_TEST_STEP') or random.Random().randint(1, STEPS - 1))   # the signal comes after global step k: the step in flight then is k + 1 (k at an epoch's end); MMGEN_TEST_STEP=k replays one
    # after stage a's last step (k = STEPS // 2) the run stops in stage a, which saved that step
    r = mmgen('train', 'tiny', '--out', tmp_path, env={'TINY_SIGNAL': f'{k}:SIGINT'})
    assert r.returncode == 130, (k, r.returncode, r.stderr)
    one_line(r.stderr)
    stage = 'a' if k <= STEPS // 2 else 'b'
    saved = torch.load(tmp_path / stage / 'latest_state.pt', weights_only=True)['step'] + (STEPS // 2 if stage == 'b' else 0)
    assert saved in (k, k + 1), (k, saved)
    assert f"stopped by Ctrl-C at step {saved - (STEPS // 2 if stage == 'b' else 0)}" in r.stderr, (k, r.stderr)
    assert str(tmp_path / stage / 'latest_state.pt') in r.stderr, (k, r.stderr)
    cmd = r.stderr.split('go on with: ')[1].split()
    assert cmd[:2] == ['mmgen', 'train'] and cmd[-1] == '--resume', r.stderr
    r = mmgen(*cmd[1:])
    assert r.returncode == 0, (k, r.stderr)
    assert history(tmp_path) == reference, f'interrupted at step {k}'
    went_on = json.loads((tmp_path / stage / 'history.json').read_text())['resumes']   # [] where the stopped stage had nothing left but to end
    assert [l.split(' (')[0] for l in r.stdout.splitlines() if l.startswith('resumed: ')] == [f"resumed: {stage} at step {w['step']}" for w in went_on], (k, went_on, r.stdout)
    local = saved - (STEPS // 2 if stage == 'b' else 0)
    assert [w['step'] for w in went_on] == [local] or (local == STEPS // 2 and not went_on), (k, saved, went_on)   # it went on where Ctrl-C saved (none: the stage was over)

def test_sigterm_then_resume(reference, tmp_path):
    "SIGTERM (as SLURM and `docker stop` send) at a random step: as Ctrl-C, the step in flight saved, one line, status 143; --resume equals the reference."
    k = int(os.environ.get('MMGEN_TEST_STEP') or random.Random().randint(1, STEPS // 2 - 1))   # inside stage a; MMGEN_TEST_STEP=k replays one
    r = mmgen('train', 'tiny', '--out', tmp_path, env={'TINY_SIGNAL': f'{k}:SIGTERM'})
    assert r.returncode == 143, (k, r.returncode, r.stderr)
    one_line(r.stderr)
    saved = torch.load(tmp_path / 'a' / 'latest_state.pt', weights_only=True)['step']
    assert saved in (k, k + 1) and f"stopped by SIGTERM at step {saved}" in r.stderr, (k, saved, r.stderr)
    cmd = r.stderr.split('go on with: ')[1].split()
    r = mmgen(*cmd[1:], '--set', 'progress=False', '--set', 'log_every=3')   # how it shows may change on resume; the rest is the recorded run's
    assert r.returncode == 0, (k, r.stderr)
    assert history(tmp_path) == reference, f'terminated at step {k}'

@pytest.mark.parametrize('sig,by,status', [('SIGINT', 'Ctrl-C', 130), ('SIGTERM', 'SIGTERM', 143)])
def test_signal_between_stages_then_resume(reference, tmp_path, sig, by, status):
    "Ctrl-C or SIGTERM outside a training step (between the stages): one line naming the signal, the last saved state and the command to go on; --resume equals the reference."
    r = mmgen('train', 'tiny', '--out', tmp_path, env={'TINY_SIGNAL_BETWEEN': sig})
    assert r.returncode == status, (r.returncode, r.stderr)
    one_line(r.stderr)
    assert f"stopped by {by} outside a training step; the last saved state is {tmp_path / 'a' / 'latest_state.pt'}; go on with: " in r.stderr, r.stderr
    assert not (tmp_path / 'b').exists()
    r = mmgen(*r.stderr.split('go on with: ')[1].split()[1:])
    assert r.returncode == 0, r.stderr
    assert history(tmp_path) == reference

def test_resume_takes_recorded_options(reference, tmp_path):
    "A run started with --set options resumes with only a display option named: the others are taken from the record, not '(unset)'."
    r = mmgen('train', 'tiny', '--out', tmp_path, '--set', 'warmup_steps=2', '--set', 'grad_clip=1.0', env={'TINY_SIGNAL': '5:SIGINT'})
    assert r.returncode == 130, r.stderr
    r = mmgen('train', 'tiny', '--out', tmp_path, '--resume', '--set', 'verbose=False')
    assert r.returncode == 0, r.stderr
    assert "--set warmup_steps=2 --set grad_clip=1.0 --set verbose=False --resume" in r.stderr, r.stderr
    assert history(tmp_path) == reference
    r = mmgen('train', 'tiny', '--out', tmp_path, '--resume', '--set', 'grad_clip=0.5', '--set', 'progress=False')
    assert r.returncode == 2 and "(--set grad_clip: 1.0 -> 0.5)" in r.stderr, r.stderr
    one_line(r.stderr)

def test_refusals(tmp_path):
    "A folder holding a run; other options on resume; a truncated state file; a bad --set key or value: one line each, status 2."
    r = mmgen('train', 'tiny', '--out', tmp_path, env={'TINY_SIGNAL': '7:SIGINT'})
    assert r.returncode == 130, r.stderr
    r = mmgen('train', 'tiny', '--out', tmp_path)
    assert r.returncode == 2 and f'{tmp_path} holds another run' in r.stderr and '--resume' in r.stderr and '--overwrite' in r.stderr, r.stderr
    one_line(r.stderr)
    r = mmgen('train', 'tiny', '--out', tmp_path, '--resume', '--set', 'lr=0.1')
    assert r.returncode == 2 and "--set lr: '(unset)' -> 0.1" in r.stderr, r.stderr
    one_line(r.stderr)
    r = mmgen('train', 'tiny', '--out', tmp_path / 'a' / 'latest_state.pt' / 'run')   # a folder that cannot be made (read-only ones alike)
    assert r.returncode == 2 and f"cannot write in {tmp_path / 'a' / 'latest_state.pt' / 'run'}" in r.stderr, r.stderr
    one_line(r.stderr)
    st = tmp_path / 'a' / 'latest_state.pt'
    st.write_bytes(st.read_bytes()[:500])
    r = mmgen('train', 'tiny', '--out', tmp_path, '--resume')
    assert r.returncode == 2 and f'{st} is truncated or corrupt' in r.stderr, r.stderr
    assert 'still good' in r.stderr and 'latest.safetensors (step 8' in r.stderr and 'best.safetensors (step 4' in r.stderr, r.stderr
    one_line(r.stderr)
    r = mmgen('train', 'tiny', '--out', tmp_path, '--overwrite', '--epochs', 1)
    assert r.returncode == 0, r.stderr
    # bad --set keys and values, --epochs -1 and --help are checked in-process in nbs/16_cli.ipynb


# the captioner, smoke-sized through --set: 2 epochs of 4 steps, saving every step
CAP = ['--epochs', '2', '--set', 'preset=smoke', '--set', 'n_train=128', '--set', 'n_valid=32', '--set', 'n_test=32',
       '--set', 'eval_every_epoch=False', '--set', 'progress=False', '--save-every', '1']

def captioner(out:Path, *extra, stop=None, timeout=600):
    "`mmgen train captioner` into `out`; with stop=(signal, k), send the signal once history.json shows k steps. Returns (status, stderr)."
    env = dict(os.environ, OMP_NUM_THREADS='1')
    p = subprocess.Popen([sys.executable, '-m', 'mmgen.cli', 'train', 'captioner', '--out', str(out), *CAP, *extra],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    if stop:
        sig, k, t0 = *stop, time.time()
        while p.poll() is None and time.time() - t0 < timeout:
            try: n = len(json.loads((out / 'history.json').read_text())['steps'])
            except (FileNotFoundError, json.JSONDecodeError): n = 0
            if n >= k: p.send_signal(sig); break
            time.sleep(0.05)
    _, err = p.communicate(timeout=timeout)
    return p.returncode, err

def cap_history(out:Path):
    h = json.loads((out / 'history.json').read_text())['steps']
    return [r['loss'] for r in h], [r['lr'] for r in h], json.loads((out / 'metrics.json').read_text())['samples']

def test_captioner_stopped_and_resumed(tmp_path):
    "`mmgen train captioner`: Ctrl-C and SIGKILL at a random step, then --resume: losses, lrs and held-out captions equal the uninterrupted run's."
    assert captioner(tmp_path / 'ref')[0] == 0
    ref = cap_history(tmp_path / 'ref')
    assert len(ref[0]) == 8
    for sig in (signal.SIGINT, signal.SIGKILL):
        k, out = random.Random().randint(1, 6), tmp_path / sig.name
        rc, err = captioner(out, stop=(sig, k))
        assert rc == (130 if sig == signal.SIGINT else -signal.SIGKILL), (sig, k, rc, err[-2000:])
        if sig == signal.SIGINT: one_line(err.split('\n', err.count('\n') - 1)[-1]); assert 'go on with: mmgen train captioner' in err, err
        rc, err = captioner(out, '--resume')
        assert rc == 0, (sig, k, err[-2000:])
        assert cap_history(out) == ref, (sig, k)
        note = json.loads((out / 'metrics.json').read_text())['resumed']   # where it went on: at or after step k (saved every step), before the end
        assert note and (m := re.match(r'resumed: training at step (\d+) ', note)) and k <= int(m[1]) < 8, (sig, k, note)
    assert json.loads((tmp_path / 'ref' / 'metrics.json').read_text())['resumed'] is None


# a shared-latent run at the notebook's tiny size (nbs/16_cli.ipynb), saving every step
SHARED = ['--epochs', '1', '--set', 'preset=smoke', '--set', 'n_train=32', '--set', 'n_eval=16', '--set', 'batch_size=8', '--set', 'decoder_steps=2',
          '--set', 'prior_steps=4', '--set', 'probe_scenes=(60, 20)', '--set', 'progress=False', '--save-every', '1']

def cli(*args, stderr=subprocess.PIPE, timeout=300):
    "`python -m mmgen.cli ARGS` (every system importable); returns the CompletedProcess."
    return subprocess.run([sys.executable, '-m', 'mmgen.cli', *map(str, args)], stdout=subprocess.PIPE, stderr=stderr, text=True,
                          env=dict(os.environ, OMP_NUM_THREADS='1'), timeout=timeout)

def test_caption_stopped_run_then_finished(tmp_path):
    "A shared-latent run stopped by Ctrl-C mid-training: `mmgen caption` names it, what it lacks and the command that finishes it (with or without mmgen_run.json); that command finishes it; then 70 images captioned with --json: JSON lines on stdout, a progress bar on a terminal's stderr."
    import pty, shutil
    from PIL import Image
    from mmgen.data import Shapes, to_uint8
    out, bare = tmp_path / 'run', tmp_path / 'from-python'
    plan = [dict(argv=['train', 'shared-latent', '--out', str(out), *SHARED], at=2)]
    r = subprocess.run([sys.executable, str(HERE / '_signal_cli.py'), 'mmgen.shared_latent', json.dumps(plan)], capture_output=True, text=True,
                       env=dict(os.environ, OMP_NUM_THREADS='1'), timeout=300)
    assert json.loads(r.stdout.splitlines()[-1])['rc'] == 130, r.stdout + r.stderr
    assert not (out / 'tokenizer.json').exists() and (out / 'latest.safetensors').exists()
    shutil.copytree(out, bare); (bare / 'mmgen_run.json').unlink()
    imgs = []
    for i in range(70):
        imgs.append(tmp_path / f'scene{i}.png'); Image.fromarray(to_uint8(Shapes(1, size=32, seed=i)[0]['image'])).save(imgs[-1])
    r = cli('caption', bare, imgs[0])
    assert r.returncode == 2 and f'{bare} holds a shared-latent run that has not finished: it has no config.json, tokenizer.json' in r.stderr, r.stderr
    assert f'`mmgen train shared-latent --out {bare} --resume` and the options it was started with' in r.stderr, r.stderr
    one_line(r.stderr)
    r = cli('caption', out, imgs[0])
    assert r.returncode == 2 and 'finish it with `mmgen train shared-latent' in r.stderr, r.stderr
    one_line(r.stderr)
    cmd = shlex.split(r.stderr.split('finish it with `')[1].split('`')[0])
    assert cmd[:2] == ['mmgen', 'train'] and cmd[-1] == '--resume', cmd
    r = cli(*cmd[1:])
    assert r.returncode == 0, r.stderr[-2000:]
    import fcntl, struct, termios, threading
    master, slave = pty.openpty()                                   # stderr on a terminal (80 columns): the bar shows there
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack('HHHH', 24, 80, 0, 0))
    bar = []
    def drain():
        while True:
            try: chunk = os.read(master, 65536)
            except OSError: break
            if not chunk: break
            bar.append(chunk)
    reader = threading.Thread(target=drain, daemon=True); reader.start()
    try: r = cli('caption', out, *imgs, '--json', stderr=slave)
    finally: os.close(slave)
    reader.join(10); os.close(master)
    bar = b''.join(bar)
    assert r.returncode == 0
    rows = [json.loads(l) for l in r.stdout.splitlines()]
    assert [d['image'] for d in rows] == list(map(str, imgs)) and all(isinstance(d['caption'], str) for d in rows)
    assert b'captioning' in bar and b'/70' in bar, bar[-500:]
    r = cli('caption', out, *imgs, '--json')                        # stderr a pipe (a log file): no bar, the same lines
    assert r.returncode == 0 and r.stderr == '' and [json.loads(l) for l in r.stdout.splitlines()] == rows, r.stderr

def test_captioner_old_schedule_name_resumes(tmp_path):
    "A captioner run saved when `scheduled_sampling` was named `schedule` (its mmgen_run.json and caption_run.json say `schedule`) resumes with the old name read as the new: step for step the run that named it `scheduled_sampling`; its weights load."
    from mmgen.captioner import load_captioner
    assert captioner(tmp_path / 'ref', '--set', 'scheduled_sampling=None')[0] == 0
    old = tmp_path / 'old'
    rc, err = captioner(old, '--set', 'scheduled_sampling=None', stop=(signal.SIGINT, 3))
    assert rc == 130, err[-2000:]
    for f in ('mmgen_run.json', 'caption_run.json'):   # as the run was written before the rename
        rec = json.loads((old / f).read_text())
        d = rec['set'] if f == 'mmgen_run.json' else rec
        d['schedule'] = d.pop('scheduled_sampling')
        (old / f).write_text(json.dumps(rec))
    rc, err = captioner(old, '--resume')
    assert rc == 0, err[-2000:]
    assert '--set schedule=None read as --set scheduled_sampling=None, its name before' in err, err[-2000:]
    assert cap_history(old) == cap_history(tmp_path / 'ref')
    load_captioner(old)
