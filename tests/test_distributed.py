"""`fit` under torchrun: 2 CPU processes (gloo) with DDP and with FSDP2 train exactly like one process.

`python -m mmgen._fixtures --dist-check OUT` (launched here by torchrun) trains `mmgen._fixtures.parity_task` four ways on
2 ranks of batch 4: DDP, FSDP2, and each interrupted after 5 steps and resumed. Each must equal a single process
with batch 8 (same global batch, same sample order) within 1e-5, step by step and in its final weights, and its
checkpoints must load into a plain single-process model. With DDP and with FSDP2, a loss that couples the batch
(`FullBatchLoss`) trained with each rank's batch as 2 accumulated micro-batches must equal the run without
accumulation (a single-process control shows plain accumulation of it differs); so must the accumulated DDP run
under `compile=True` (`torch.compile` over DDP of the model and its loss). With 60 samples, each epoch's last step accumulates
a micro-batch of 4 and a short one of 2 on each rank: DDP and FSDP2 must weigh them by their samples, as one process at
batch 8 does; so must they when a custom loader ends the ranks' epochs on unequal batches (3 samples and 1). A last run, under `max_seconds` with a fake clock that runs
at a different rate on each rank, must end every rank at the slowest rank's plan. `PartsNet` trained under FSDP2 as
shared-latent, distilled and paired-retrieval train theirs (a loss that reaches the model through a method, a 0-d trainable
scale, a frozen teacher, then a second `fit` of a part of the sharded model) must equal one process within 1e-5 too.
Every system trains from the command line under torchrun with DDP and with FSDP2.
"""
import json, os, shutil, socket, subprocess, sys
from dataclasses import replace
from pathlib import Path

import pytest, torch

from mmgen.train import EMA, History, TrainConfig, fit, load_weights
from mmgen._fixtures import PARITY_CFG, ParityNet, budget_run, parity_task, uneven_task, coupled_loss, parts_run

TOL = 1e-5
RUNS = ['ddp', 'fsdp', 'ddp_resume', 'fsdp_resume']


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _torchrun() -> list[str]:
    exe = Path(sys.executable).with_name('torchrun')
    return [str(exe)] if exe.exists() else [sys.executable, '-m', 'torch.distributed.run']


def _first_error(text:str, n:int=3000) -> str:
    "The first error a rank printed (a Python traceback, a C++ abort), which the launcher's own report after it pushes out of a tail."
    starts = [i for i in (text.find(m) for m in ('Traceback (most recent call last)', 'terminate called', 'Fatal Python error')) if i >= 0]
    return text[max(0, min(starts) - 300):min(starts) + n] if starts else '(none found)'


def _run_2proc(args:list[str], timeout:int, ok:bool=True, **env) -> subprocess.CompletedProcess:
    "`torchrun --nproc_per_node 2 ARGS` on 127.0.0.1 (gloo); with `ok`, fails the test with the first error a rank printed and both output tails unless it succeeds."
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1', **env)
    for attempt in range(2):  # a second try only if the free port was taken in between
        cmd = _torchrun() + ['--nproc_per_node', '2', '--master_addr', '127.0.0.1', '--master_port', str(_free_port())] + args
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        if r.returncode == 0 or 'address already in use' not in (r.stdout + r.stderr).lower(): break
    assert r.returncode == 0 or not ok, (f"torchrun failed ({r.returncode}); the first error a rank printed:\n{_first_error(r.stderr)}\n"
                                         f"--- stdout tail:\n{r.stdout[-4000:]}\n--- stderr tail:\n{r.stderr[-4000:]}")
    return r


@pytest.fixture(scope='module')
def dist_runs(tmp_path_factory) -> Path:
    "Run the 2-process check once; returns its output folder."
    out = tmp_path_factory.mktemp('dist')
    _run_2proc(['-m', 'mmgen._fixtures', '--dist-check', str(out)], timeout=300)
    return out


@pytest.fixture(scope='module')
def reference(tmp_path_factory):
    "One process, batch 8: the run every distributed variant must reproduce."
    torch.set_num_threads(1)
    model, tdl, vdl, lf = parity_task(8)
    h = fit(model, lf, tdl, vdl, TrainConfig(**PARITY_CFG, out_dir=str(tmp_path_factory.mktemp('ref'))))
    assert len(h.steps) == 16
    return model, h


def _close(a, b, what):
    a, b = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    assert a.shape == b.shape, f"{what}: shapes {tuple(a.shape)} vs {tuple(b.shape)}"
    err = (a - b).abs().max().item()
    assert err < TOL, f"{what}: max abs difference {err:.2e} >= {TOL}"


@pytest.mark.parametrize('run', RUNS)
def test_matches_single_process(dist_runs, reference, run):
    "Per-step losses, valid losses and final weights equal the single-process run within 1e-5."
    ref_model, ref = reference
    h = History.from_json(dist_runs/run/'history.json')
    _close(h.losses, ref.losses, f'{run} per-step train loss')
    _close([r['valid_loss'] for r in h.epochs], [r['valid_loss'] for r in ref.epochs], f'{run} valid loss')
    model = load_weights(ParityNet(), dist_runs/run/'latest.safetensors')  # sharded run -> plain model
    for (k, p), q in zip(model.named_parameters(), ref_model.parameters()): _close(p.detach(), q.detach(), f'{run} {k}')
    if run.endswith('_resume'): assert (dist_runs/f"{run.split('_')[0]}_interrupted"/'latest_state.pt').exists()


def test_sharded_ema_matches_single_process(dist_runs, tmp_path):
    "EMA of an FSDP2-sharded model (each rank averaging its shards), interrupted, saved whole and resumed on 2 ranks: the average one process keeps."
    model, tdl, vdl, lf = parity_task(8)
    fit(model, lf, tdl, vdl, TrainConfig(**PARITY_CFG, out_dir=str(tmp_path/'ref')), callbacks=[EMA(model, 0.9)])
    sharded = load_weights(ParityNet(), dist_runs/'fsdp_ema'/'final.safetensors')
    for (k, p), q in zip(sharded.named_parameters(), model.parameters()): _close(p.detach(), q.detach(), f'EMA {k}')
    st = torch.load(dist_runs/'fsdp_ema_interrupted'/'latest_state.pt', weights_only=True)
    avg = st['callbacks'][max(st['callbacks'])]   # the EMA's, saved whole at step 5 by rank 0 from both ranks' shards
    assert int(avg['n_averaged']) == 5 and {k: tuple(v.shape) for k, v in avg.items() if k != 'n_averaged'} == \
        {f'module.{k}': tuple(v.shape) for k, v in ParityNet().state_dict().items()}


def test_interrupted_state_is_plain(dist_runs):
    "The FSDP2 training state is complete and loads with weights_only=True, interrupted where asked."
    st = torch.load(dist_runs/'fsdp_interrupted'/'latest_state.pt', weights_only=True)
    assert (st['step'], st['epoch'], st['batch'], st['world_size']) == (5, 0, 5, 2)
    assert len(st['rng']) == 2 and set(st['optimizer']['state']) == {k for k, _ in ParityNet().named_parameters()}


def test_single_process_resumes_fsdp_checkpoint(dist_runs, reference, tmp_path):
    "A checkpoint written by 2 FSDP2 ranks (batch 4) resumes in one process (batch 8) and finishes identically."
    ref_model, ref = reference
    out = tmp_path/'resume'
    shutil.copytree(dist_runs/'fsdp_interrupted', out)
    model, tdl, vdl, lf = parity_task(8, init_seed=1)  # different initial weights: the checkpoint must replace them
    h = fit(model, lf, tdl, vdl, replace(TrainConfig(**PARITY_CFG), out_dir=str(out)), resume=True)
    _close(h.losses, ref.losses, 'per-step train loss')
    for (k, p), q in zip(model.named_parameters(), ref_model.parameters()): _close(p.detach(), q.detach(), k)


@pytest.mark.parametrize('accum', [[], ['--set', 'grad_accum=2']], ids=['plain', 'grad_accum'])
def test_captioner_fsdp2_from_the_command_line(tmp_path, accum):
    "`torchrun -m mmgen.cli train captioner --set parallel=fsdp`: the seed-004 system shards (its loss scalars too), trains, scores; with grad_accum its FullBatchLoss too (SigLIP through the sharded model's forward)."
    import json
    _run_2proc(['-m', 'mmgen.cli', 'train', 'captioner', '--out', str(tmp_path), '--epochs', '2',
                '--set', 'parallel=fsdp', '--set', 'device="cpu"', *accum], timeout=600, IN_TEST='1')
    m = json.loads((tmp_path/'metrics.json').read_text())
    assert m['epochs'] == 2 and m['last_train_loss'] < m['first_loss'], m
    assert (tmp_path/'best.safetensors').exists() and (tmp_path/'samples.png').exists()


def test_budget_takes_the_slowest_plan(dist_runs):
    "max_seconds under DDP: rank r's clock counts r + 1 per loss evaluation; both ranks end where rank 1 alone would, with its schedule."
    torch.set_num_threads(1)
    r0, r1 = (json.loads((dist_runs/'ddp_budget'/f'rank{r}.json').read_text()) for r in (0, 1))
    slow, fast = budget_run(8, rate=2), budget_run(8, rate=1)
    assert len(r0['lrs']) == len(r1['lrs']) == len(slow.steps) < len(fast.steps), (len(r0['lrs']), len(r1['lrs']), len(slow.steps), len(fast.steps))
    _close(r0['lrs'], [r['lr'] for r in slow.steps], 'rank 0 learning rates')
    _close(r1['lrs'], r0['lrs'], 'rank 1 learning rates')
    _close(r0['losses'], slow.losses, 'per-step train loss')
    assert r0['stop_reason'] == r1['stop_reason'] == slow.stop_reason, (r0['stop_reason'], slow.stop_reason)


@pytest.mark.parametrize('mode', ['ddp', 'fsdp', 'ddp_compiled'])
def test_full_batch_loss_accumulates_exactly(dist_runs, mode):
    "A loss that couples the batch (`FullBatchLoss`), each rank's batch of 4 as 2 accumulated micro-batches of 2: step for step the run without accumulation (eager, for the compiled one)."
    runs = [f"{mode.split('_')[0]}_accum1", f'{mode}_accum2']
    a, b = (History.from_json(dist_runs/r/'history.json') for r in runs)
    assert len(a.losses) == len(b.losses) == 16
    _close(b.losses, a.losses, f'{mode} accumulated per-step train loss')
    wa, wb = (load_weights(ParityNet(), dist_runs/r/'latest.safetensors') for r in runs)
    for (k, p), q in zip(wa.named_parameters(), wb.parameters()): _close(q.detach(), p.detach(), f'{mode} accumulated {k}')


def _same_as_one_process(run:Path, model, ref:History, what:str):
    "A distributed run's folder against one process's `fit` (its History and the model it trained): 8 steps, per-step losses and final weights within TOL."
    h = History.from_json(run/'history.json')
    assert len(h.losses) == len(ref.losses) == 8
    _close(h.losses, ref.losses, f'{what} per-step train loss')
    got = load_weights(ParityNet(), run/'latest.safetensors')
    for (k, p), q in zip(got.named_parameters(), model.parameters()): _close(p.detach(), q.detach(), f'{what} {k}')


@pytest.mark.parametrize('mode', ['ddp', 'fsdp'])
def test_short_last_micro_batch_weighs_by_its_samples(dist_runs, mode):
    "60 samples, 2 ranks of batch 4, grad_accum 2: each epoch's last step accumulates a micro-batch of 4 and one of 2 on each rank; it must equal one process at batch 8 (its last step 8 + 4), step for step and in its weights."
    torch.set_num_threads(1)
    model, tdl, vdl, lf = parity_task(8, n_train=60)
    _same_as_one_process(dist_runs/f'{mode}_tail', model, fit(model, lf, tdl, vdl, TrainConfig(**PARITY_CFG, grad_accum=2)), f'{mode} short-tail')


@pytest.mark.parametrize('mode', ['ddp', 'fsdp'])
def test_ranks_with_unequal_last_batches_weigh_by_samples(dist_runs, mode):
    "Rank 0 trains on 27 samples, rank 1 on 25 (its own unshuffled slice, batch 4, grad_accum 2): each epoch's last step is one batch of 3 on rank 0 and of 1 on rank 1. It must equal one process whose batches join the ranks' (its last step 3 + 1), step for step and in its weights."
    torch.set_num_threads(1)
    model, tdl, lf = uneven_task(None)
    _same_as_one_process(dist_runs/f'{mode}_uneven', model, fit(model, lf, tdl, None, TrainConfig(**PARITY_CFG, grad_accum=2)), f'{mode} uneven-tail')


def test_plain_accumulation_of_a_coupled_loss_differs():
    "The control: the same loss as a plain function (accumulated as independent micro-batch means) trains another run, so the check above can fail."
    torch.set_num_threads(1)
    runs = []
    for k, plain in ((1, False), (2, True)):
        model, tdl, vdl, _ = parity_task(4 // k)
        lf = (lambda m, b, s: coupled_loss(m, b, s)) if plain else coupled_loss
        runs.append(fit(model, lf, tdl, vdl, TrainConfig(**PARITY_CFG, grad_accum=k)).losses)
    err = (torch.tensor(runs[0]) - torch.tensor(runs[1])).abs().max().item()
    assert err > 100 * TOL, f"plain accumulation matched the whole batch's loss (max difference {err:.1e}): the coupled loss couples nothing"


def test_sharded_parts_match_single_process(dist_runs, tmp_path):
    "FSDP2 on `PartsNet` (loss through `encode`, 0-d scale, frozen teacher, then a fit of the decoder alone): both fits' per-step losses and the final weights equal one process with batch 8 within 1e-5."
    from safetensors.torch import load_file
    torch.set_num_threads(1)
    ref = parts_run(8, tmp_path)
    got = json.loads((dist_runs/'fsdp_parts'/'parts.json').read_text())
    assert len(got) == len(ref) == 2
    for i, (a, h) in enumerate(zip(got, ref)): _close(a, h.losses, f'fit {i + 1} per-step train loss')
    w, w_ref = load_file(dist_runs/'fsdp_parts'/'parts.safetensors'), load_file(tmp_path/'parts.safetensors')
    assert sorted(w) == sorted(w_ref), (sorted(w), sorted(w_ref))
    for k in w_ref: _close(w[k], w_ref[k], k)
    assert abs(w_ref['scale'].item() - 1) > 1e-3, 'the 0-d scale did not train: the check would not see it'


@pytest.mark.parametrize('parallel', ['ddp', 'fsdp'])
@pytest.mark.parametrize('system', ['shared-latent', 'distilled', 'vq-art', 'paired-retrieval'])
def test_every_system_trains_under_torchrun(tmp_path, system, parallel):
    "`torchrun -m mmgen.cli train NAME` with DDP (the default) and with `--set parallel=fsdp` for the other four systems, smoke-sized: each trains and writes its metrics (the captioner's FSDP2 runs are above)."
    fsdp = ['--epochs', '1', '--set', 'parallel=fsdp'] if parallel == 'fsdp' else []   # one epoch: every stage still shards and trains, in less of the file's time
    _run_2proc(['-m', 'mmgen.cli', 'train', system, '--out', str(tmp_path), '--set', 'device="cpu"', *fsdp], timeout=600, IN_TEST='1')
    assert json.loads((tmp_path/'metrics.json').read_text()), system


def test_torchrun_ranks_wait_for_rank0s_folder_check(tmp_path):
    "Under torchrun only rank 0 checks --out; the other ranks write into it once it has (a barrier): a folder holding the user's file named as a run's own is refused, the file intact, and no rank wrote beside it (rank 1 used to render its scenes there meanwhile)."
    (tmp_path / 'config.json').write_text('{"mine": 1}')
    r = _run_2proc(['-m', 'mmgen.cli', 'train', 'shared-latent', '--out', str(tmp_path), '--set', 'device="cpu"'], timeout=300, ok=False, IN_TEST='1')
    assert r.returncode != 0 and 'holds no mmgen run' in r.stdout + r.stderr, (r.stdout + r.stderr)[-3000:]
    assert [p.name for p in tmp_path.iterdir()] == ['config.json'] and (tmp_path / 'config.json').read_text() == '{"mine": 1}', sorted(tmp_path.rglob('*'))
