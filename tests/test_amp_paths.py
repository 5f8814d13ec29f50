"""Every system's `train`, tiny, on the paths a GPU takes: `fit`'s autocast forced to bf16 (Ampere and later) or to fp16
with a gradient scaler (a T4 or P100, e.g. on Kaggle), and `compile=True` (torch.compile's inductor), here on the CPU,
where CI runs.

CI has no GPU, so without this file the mixed-precision path of a system is first run on a lent GPU, where a dtype
bug costs the lease: 2026-12-05's CPU rehearsal of the `#| cuda` cells found one (vq-art's EMA codebook update refused
bf16 latents, so `mmgen train vq-art` could not train on any GPU). Each run must finish, write finite losses, and
load back through the system's own loader. The compiled runs found that shared-latent could not compile (inductor
failed on its decoder's input, one token shorter than a batch whose length varied): compiled, it now pads every batch
to `max_len`.
"""
import math, importlib, json
import pytest, torch
import mmgen.train as mtrain

SYSTEMS = {  # module -> (tiny overrides of the smoke preset, loader name)
    'vq_art': (dict(n_train=64, n_test=16, vq_steps=6, prior_steps=6, batch_size=16, quantizer='ema+kmeans+restart', texture_log=.05), 'load_vq_art'),
    'captioner': (dict(epochs=1, n_train=128, n_valid=32, n_test=32, moe=True, eval_every_epoch=False), 'load_captioner'),
    'paired_retrieval': (dict(epochs=1, n_train=128, n_valid=32, n_test=32, d_model=32, n_layers=1, d_ff=64, text_d_model=32, verbose=False), 'load_retrieval'),
    'distilled': (dict(epochs=1, n_train=64, n_valid=32, n_test=16, batch_size=16, teacher_batch=16, teacher_epochs=1, verbose=False), 'load_distilled'),
    'shared_latent': (dict(epochs=1, n_train=32, n_eval=16, batch_size=8, decoder_steps=4, prior_steps=4, probe_scenes=(60, 20)), 'load_shared_latent'),
}

def _histories(out):
    "Every history.json a run's stages wrote."
    return [json.loads(p.read_text()) for p in sorted(out.rglob('history.json'))]

@pytest.mark.parametrize('dtype', ['bf16', 'fp16'])
@pytest.mark.parametrize('name', list(SYSTEMS))
def test_system_trains_under_autocast(name, dtype, tmp_path, monkeypatch):
    torch.set_num_threads(1)
    dt = dict(bf16=torch.bfloat16, fp16=torch.float16)[dtype]
    monkeypatch.setattr(mtrain, 'amp_dtype', lambda device=None: dt)             # amp='auto' now picks dt on the CPU too
    if dtype == 'fp16':                                                           # and a scaler, as on a pre-Ampere GPU
        monkeypatch.setattr(mtrain, 'resolve_amp', lambda amp, device: (dt, True) if amp == 'auto' else (None, False))
        cpu_scaler, scalers = torch.amp.GradScaler, []
        monkeypatch.setattr(torch.amp, 'GradScaler', lambda device='cuda', *a, **k: scalers.append(cpu_scaler('cpu', *a, **k)) or scalers[-1])
    calls = []
    real_autocast = torch.autocast
    def spy(device_type, dtype=None, *a, **k):
        calls.append(dtype); return real_autocast(device_type, dtype, *a, **k)
    monkeypatch.setattr(torch, 'autocast', spy)                                    # proof that the path ran under dt
    mod = importlib.import_module(f'mmgen.{name}')
    kw, loader = SYSTEMS[name]
    mod.train(tmp_path, preset='smoke', device='cpu', progress=False, **kw)
    assert dt in calls, f"{name}: fit never entered {dt} autocast (calls: {set(calls)})"
    if dtype == 'fp16': assert scalers and all(sc.get_scale() > 0 for sc in scalers), f"{name}: no gradient scaler under fp16"
    hs = _histories(tmp_path)
    assert hs and all(math.isfinite(r['loss']) for h in hs for r in h['steps']), f"{name}: a non-finite loss under {dtype}"
    loaded = getattr(mod, loader)(tmp_path)
    assert loaded is not None


@pytest.mark.parametrize('name', list(SYSTEMS))
def test_system_trains_compiled(name, tmp_path, monkeypatch):
    torch.set_num_threads(1)
    real_compile, compiled = torch.compile, []
    monkeypatch.setattr(torch, 'compile', lambda m, *a, **k: compiled.append(type(m).__name__) or real_compile(m, *a, **k))   # proof that fit compiled
    mod = importlib.import_module(f'mmgen.{name}')
    kw, loader = SYSTEMS[name]
    mod.train(tmp_path, preset='smoke', device='cpu', progress=False, compile=True, **kw)
    assert compiled, f"{name}: train(compile=True) never called torch.compile"
    hs = _histories(tmp_path)
    assert hs and all(math.isfinite(r['loss']) for h in hs for r in h['steps']), f"{name}: a non-finite loss compiled"
    assert getattr(mod, loader)(tmp_path) is not None
