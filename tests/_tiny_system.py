"""A tiny two-stage system for tests/test_cli.py, registered as `tiny` when imported.

An MLP with dropout regresses noisy data (fresh noise per access, drawn from torch's RNG) through `mmgen.train.fit` in two
stages, `OUT/a` and `OUT/b` (as the shared latent's stages write sub-folders). With `TINY_SIGNAL=STEP:SIGNAME` in the
environment it sends itself that signal after global step STEP, the way a user's Ctrl-C or the kernel's OOM killer would;
with `TINY_SIGNAL_BETWEEN=SIGNAME`, between its two stages (outside any training step).
"""
import os, signal
from pathlib import Path
import torch, torch.nn as nn, torch.nn.functional as F
from torch.utils.data import Dataset, DataLoader
from mmgen.core import register_system
from mmgen.train import TrainConfig, Callback, fit, resume_note

class Noisy(Dataset):
    def __init__(self, n=64):
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(n, 4, generator=g); self.y = torch.tanh(self.x @ torch.randn(4, 2, generator=g))
    def __len__(self): return len(self.x)
    def __getitem__(self, i): return self.x[i] + 0.05 * torch.randn(4), self.y[i]

class SignalAt(Callback):
    "Send this process `sig` once the global step count (over both stages) reaches `at`."
    def __init__(self, at, sig, done=0): self.at, self.sig, self.n = at, sig, done
    def after_step(self, state):
        if state.step + self.n == self.at: os.kill(os.getpid(), self.sig)

def _loss(model, batch, state):
    x, y = batch
    return {'loss': F.mse_loss(model(x), y)}

@register_system('tiny', 'a tiny two-stage regression (tests only)', options=(TrainConfig,))
def train(out_dir, # where the two stages write a/ and b/
          epochs:int|None=None, # epochs of each stage
          full:bool=False, # unused
          **kw, # TrainConfig fields
         ) -> dict:
    "Two fits of one MLP; returns their per-step losses and learning rates."
    torch.set_num_threads(1)
    out = Path(out_dir)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.GELU(), nn.Dropout(0.2), nn.Linear(16, 2))
    at, _, name = os.environ.get('TINY_SIGNAL', '0::').partition(':')
    cfg = dict(epochs=epochs or 3, lr=3e-3, grad_accum=2, warmup_steps=2, progress=False, verbose=False)
    hist, done = [], 0
    for stage, lr in (('a', 3e-3), ('b', 1e-3)):
        c = TrainConfig(**{**cfg, 'lr': lr, **kw, 'out_dir': str(out / stage)})
        cbs = [SignalAt(int(at), getattr(signal, name), done)] if int(at) else []
        h = fit(model, _loss, DataLoader(Noisy(), batch_size=8, shuffle=True), None, c, callbacks=cbs)
        hist.append(h); done += len(h.steps)
        if stage == 'a' and (between := os.environ.get('TINY_SIGNAL_BETWEEN')): os.kill(os.getpid(), getattr(signal, between))   # outside any step
    return dict(losses=[l for h in hist for l in h.losses], lrs=[r['lr'] for h in hist for r in h.steps], resumed=resume_note(a=hist[0], b=hist[1]))
