"""`mmgen list`, `mmgen train SYSTEM` (resumable, with one-line errors), `mmgen caption RUN IMAGE`, `mmgen draw RUN PROMPT` and `mmgen retrieve RUN IMAGE`.

`mmgen list` prints the registered systems. `mmgen train NAME [--out DIR] [--epochs N] [--full] [--set KEY=VALUE]
[--resume | --overwrite] [--save-every N] [--save-minutes T]` calls that system's `train(out_dir=DIR, epochs=N,
full=..., **overrides)` and prints the figures it returns (its numbers, a nested dict's by dotted name, `vq.usage`; the whole in OUT/metrics.json; where it ended before its plan did, as `--epochs 50` under a preset's time budget, why: `stop_notes`), then the commands that use the run (`use it: mmgen caption DIR IMAGE.png`, ...). Each system trains on its embedded (generated)
dataset, with no download, and writes a checkpoint, a metrics JSON and a sample grid to `--out`, which defaults to
`runs/NAME`. `--set` repeats; VALUE is read as a Python literal (`--set moe=True --set lr=1e-3`), else kept as a string
(`--set parallel=fsdp`). `mmgen train NAME --help` lists the system's presets (`--set preset=NAME`), which one the command
runs and what a run of each costs (the module's `PRESET_COSTS`), then every option of that system with the value the command uses (that of the preset
it runs: the one `--set preset=NAME` names, else `--full`'s with `--full`, else the default; where the system sets a `TrainConfig` field itself, its value, or `<derived>` and from what; and the value each later stage of the system sets itself) and its meaning (read from the comments beside its train function's parameters and its config dataclasses' fields); an unknown key is
refused with the nearest valid names, a value of the wrong type or out of range with what is allowed.

A stopped run goes on: Ctrl-C (or SIGTERM, how SLURM, `docker stop` and job schedulers end a process) finishes the step in flight, saves it, prints one line (where it stopped, what it saved,
the command that goes on) and exits with status 130 (143 for SIGTERM); outside a step (making data, evaluating, between stages) either signal stops it at once, with one line naming the last saved state; `--resume` continues step for step, through every `fit` the
system calls (`mmgen.train.fit_options`). A run also saves every `--save-every` steps and every `--save-minutes` (5 by
default), so a kill loses at most that much. A folder that holds another run is refused unless `--resume` or
`--overwrite` says what to do with it (a run that saved no state yet holds nothing, and does not block); a folder holding
another *system's* run is neither resumed nor overwritten, nor one that also holds files a run of the system does not write (`--overwrite` removes the run's folder, so it names them: the user moves them out); `--resume` takes the options the run was started with where the command does not name them, and refuses one that changes what the run computes (naming it); how it runs (`progress`, `verbose`, `log_every`, `device`, ...) may change. A folder that cannot be written (Kaggle's read-only `/kaggle/input`) is refused in one line that says to copy the run to a writable place; running out of GPU memory ends in one line naming the options that need less (exit status 1). Errors in what the user
asked for (`mmgen.core.UserError`) print one line, exit status 2. `mmgen caption RUN IMAGE... [--method greedy|beam|top-p]
[--beam-size K] [--top-p P] [--temperature T] [--seed S] [--max-len N] [--batch-size B] [--json]` captions images with the
run trained into RUN (a captioner, distilled or shared-latent run: `run_system` reads which from RUN's `mmgen_run.json`,
else from the modules its weights hold, which a run stopped mid-training has too, else from the files its loader requires), each image brought to the side the run
was trained at, B images decoded at once (greedy and beam captions do not depend on B), and prints one line per image,
`path: caption`, or with `--json` one JSON object, `{"image": path, "caption": caption}`; an image that cannot be read (missing, no image, cut short) is named on stderr in one line and skipped, the others captioned, and the exit status is 2 at the end (`mmgen retrieve` alike, for its images and its gallery); a progress bar on stderr when
there are many images and stderr is a terminal. `--method top-p` draws from the nucleus of mass P at temperature T, each image's
caption from (seed, its pixels, its copy index) alone: the same at any B, in any order and beside any other images (an
image named twice draws a second copy); an option the method does not use is refused, not ignored. `mmgen draw RUN PROMPT...
[--n N] [--out FILE.png] [--seed S]` draws N pictures per prompt with a vq-art or shared-latent run, writes them as one
PNG grid (a row per prompt, each picture titled by its prompt; default RUN/draw.png, `draw.png` inside a folder, `.png` added to a name without a suffix) and prints its path. A run of a
system that does not caption (or draw) is refused in one line naming what it holds and the systems that do. `mmgen retrieve
RUN PAIR_IMAGE... [--k K] [--json]` lists, for each image of two pictures side by side (read at the size the paired-retrieval run
was trained at, never resized), its top K captions from all the run's pair captions, one line each, `path: RANK. caption
(score)`; `mmgen retrieve RUN --text CAPTION... --gallery PAIR_IMAGE... [--k K] [--json]` lists, for each caption, its top K gallery
images, `caption: RANK. path (score)` (scores: cosine similarities); with `--json` one JSON object per query, `{"image": path, "captions": [{"caption": caption, "score": score}, ...]}` or `{"caption": caption, "images": [{"image": path, "score": score}, ...]}`.

A system registers itself with `mmgen.core.register_system`; the command sees it only if its module is listed in
`SYSTEM_MODULES`, which `load_systems()` imports; `SYSTEM_INDEX` names each system's module and line, so `mmgen list` imports no system and `mmgen train NAME` only NAME's. A system that trains with `mmgen.train.fit` runs on several GPUs or CPU
processes when the same command is launched by `torchrun`, with DDP unless `--set parallel=fsdp` asks for FSDP2
(every system trains either way):
`torchrun --nproc_per_node 8 -m mmgen.cli train captioner --full --set parallel=fsdp`. `main(argv)` runs the command
in-process and returns its exit status.

Docs: https://mmgen-dev.github.io/mmgen/cli.html.md"""

# AUTOGENERATED! DO NOT EDIT! File to edit: ../nbs/16_cli.ipynb.

# %% ../nbs/16_cli.ipynb #689ee6ae
from __future__ import annotations
import argparse, ast, dataclasses, difflib, fnmatch, importlib, inspect, json, os, re, shlex, shutil, sys, textwrap, time
from pathlib import Path
from .core import SYSTEMS, SystemSpec, UserError, Derived, FromOption, writable_dir, default_device

# %% auto #0
__all__ = ['SYSTEM_INDEX', 'SYSTEM_MODULES', 'SAME_OPTIONS', 'CAPTIONS', 'METHODS', 'DECODING', 'USES', 'DRAWS', 'RETRIEVES',
           'RUN_FILE', 'FIT_WRITES', 'EXAMPLE_PROMPTS', 'SYSTEM_FILES', 'SYSTEM_WEIGHTS', 'PROGRESS_FROM',
           'load_systems', 'system_lines', 'find_system', 'system_declares', 'system_options', 'check_overrides',
           'preset_values', 'preset_costs', 'option_values', 'stage_notes', 'run_files', 'foreign_files', 'run_cache',
           'clashing_files', 'prepare_out', 'next_steps', 'metrics_summary', 'stop_notes', 'renamed_options', 'main',
           'weight_modules', 'run_system', 'decoding_options', 'caption_progress', 'draw_grid']

# %% ../nbs/16_cli.ipynb #9df7dd7a
SYSTEM_INDEX = {  # name -> (the module that registers it, its `mmgen list` line): what `mmgen list` and `mmgen train NAME` read before
    # importing a system (each import takes seconds, torch's first); a test below holds it to the registry
    'shared-latent': ('mmgen.shared_latent', 'seed 000: image ⇄ caption through one shared latent, on Shapes'),
    'distilled': ('mmgen.distilled', 'seed 001: a tiny ViT distilled from a CLIP teacher (cached embeddings) + a 2-layer caption decoder, on Shapes'),
    'vq-art': ('mmgen.vq_art', 'seed 002: VQ-VAE with a used codebook + MaskGIT prior from adjectives, on AbstractArt'),
    'paired-retrieval': ('mmgen.paired_retrieval', 'seed 003: ViT over stacked image pairs + text tower, CLIP loss, left/right captions (PairedShapes, 105 classes)'),
    'captioner': ('mmgen.captioner', 'seed 004: ResNet visual tokens + RoPE decoder with cross-attention (optional MoE), SigLIP, scheduled teacher forcing, on Shapes'),
}
SYSTEM_MODULES = list(dict.fromkeys(m for m, _ in SYSTEM_INDEX.values()))  # modules that register systems (a module not yet in the library is skipped)

def load_systems(modules=SYSTEM_MODULES) -> dict:
    "Import every module that registers a system; return the registry."
    for m in modules:
        try: importlib.import_module(m)
        except ModuleNotFoundError as e:
            if e.name != m: raise  # a real missing dependency inside an existing module must surface
    return SYSTEMS

def system_lines() -> dict[str, str]:
    "name -> its `mmgen list` line, importing no system: the index's systems whose module is in SYSTEM_MODULES, and those registered in this process."
    return {n: d for n, (m, d) in SYSTEM_INDEX.items() if m in SYSTEM_MODULES} | {n: s.doc for n, s in SYSTEMS.items()}

def find_system(name:str, # a system's command-line name
               ) -> SystemSpec|None:
    "The registered system `name`, importing only the module the index names for it; None for a name neither knows."
    if name not in SYSTEMS and name in SYSTEM_INDEX and SYSTEM_INDEX[name][0] in SYSTEM_MODULES: load_systems([SYSTEM_INDEX[name][0]])
    return SYSTEMS.get(name)

# %% ../nbs/16_cli.ipynb #c1100002
_FLAGS = ('out_dir', 'epochs', 'full')          # the command's own flags
_SIMPLE = re.compile(r'\b(int|float|bool|str|tuple)\b')   # annotations a command line can give

def _anno(a) -> str: return a if isinstance(a, str) else getattr(a, '__name__', str(a))

def _option_classes(spec:SystemSpec, fn) -> tuple:
    "The config dataclasses whose fields the train function's **kw takes: declared, else named in its **kw comment."
    if spec.options: return spec.options
    from fastcore.docments import docments   # here and below, not at import: fastcore takes ~0.2 s, which `mmgen --help` need not wait for
    d = docments(fn, full=True)
    kw = next((k for k, v in d.items() if v.get('kind') == 4), None)   # VAR_KEYWORD
    text = ' '.join(str(d[k]['docment'] or '') for k in (kw, 'return') if k in d)   # fastcore files a last comment under 'return'
    mod = sys.modules[fn.__module__]
    cls = [getattr(mod, n, None) for n in dict.fromkeys(re.findall(r'\b[A-Z]\w+', text))]
    return tuple(c for c in cls if dataclasses.is_dataclass(c))

def system_declares(spec:SystemSpec|str, # a registered system, or its command-line name
                    name:str, # what its module declares for the command line: RUN_WRITES, SETS_ITSELF, STAGES, NOT_OPTIONS
                    default=None, # for a system that declares none (a stand-in), or a name no system registered
                   ):
    "What the module of system `spec` declares under `name` (the module imported, as `mmgen train NAME` imports it), else `default`."
    spec = find_system(spec) if isinstance(spec, str) else spec
    return default if spec is None else getattr(importlib.import_module(spec.module), name, default)

def system_options(spec:SystemSpec) -> dict[str, tuple]:
    "Every option `--set` can give `spec`'s train function: name -> (default, type, meaning)."
    from fastcore.docments import docments
    fn, out = spec.load(), {}
    own = system_declares(spec, 'NOT_OPTIONS', {})   # fields of those classes that the system sets itself (vq-art's lr, per stage)
    for k, v in docments(fn, full=True).items():
        if k in _FLAGS or k == 'return' or v.get('kind') in (2, 4) or not _SIMPLE.search(_anno(v['anno'])): continue
        out[k] = (v['default'], _anno(v['anno']), v['docment'] or '')
    for c in _option_classes(spec, fn):
        for k, v in docments(c, full=True).items():
            if k not in ('return', *_FLAGS, *own) and k not in out: out[k] = (v['default'], _anno(v['anno']), v['docment'] or '')
    return out

# %% ../nbs/16_cli.ipynb #c1100006
_OWN = ('out', 'resume', 'overwrite')   # flags of `mmgen train` a user may try as --set keys
SAME_OPTIONS = (('n_test', 'n_eval'), ('max_seconds', 'budget_s', 'vq_seconds', 'prior_seconds'), ('img_size', 'image_size', 'size'),
                ('lr', 'vq_lr'))   # one thing, named differently by the systems (a saved run stores its system's names)
_AT_LEAST = {'batch_size': 1, 'n_train': 1}   # options every system has that it does not check itself (an error deep inside torch or the data)

def _fits(v, anno:str) -> bool:
    "Whether a --set value can be what the annotation says (ints pass for floats; None where the type allows it)."
    if v is None: return 'None' in anno
    kinds = set(re.findall(r'\b(int|float|bool|str|tuple|list|dict)\b', anno))
    if not kinds: return True                        # an annotation the command line does not judge
    if isinstance(v, bool): return 'bool' in kinds
    if isinstance(v, int): return bool(kinds & {'int', 'float'})
    if isinstance(v, float): return 'float' in kinds
    if isinstance(v, (tuple, list)): return bool(kinds & {'tuple', 'list'})
    return type(v).__name__ in kinds

def check_overrides(name:str, # the system's command-line name
                    overrides:dict, # --set KEY=VALUE pairs
                    options:dict, # `system_options` of the system
                   ):
    "Refuse an unknown key (naming what the system calls it, else the nearest valid names), a value of the wrong type (naming the type), in one line."
    for k, v in overrides.items():
        if k in _FLAGS or k in _OWN and k not in options: raise UserError(f"--set {k}=...: use the command's own flag --{k.replace('out_dir', 'out')} instead")
        if k in (own := system_declares(name, 'NOT_OPTIONS', {})): raise UserError(f"--set {k}=...: not an option of {name}: {own[k]}")   # a field the system sets itself
        if k == 'device' and isinstance(v, str): default_device(v)   # a GPU this machine lacks: refused now, not after the data are made
        same = [o for g in SAME_OPTIONS if k in g for o in g if o != k and o in options]
        if k not in options and same:
            raise UserError(f"unknown option {k!r} for {name}; {name} calls it {' or '.join(same)} ({options[same[0]][2]})")
        if k == 'data' and k not in options:   # the Python argument `train(out_dir, data=...)` of the systems that take your own splits
            raise UserError(f"--set data=...: your own data is not a command-line option; from Python, give {name}'s train(out_dir, data={{'train': ..., 'valid': ..., 'test': ...}}) "
                            "where it takes data (README, 'Bring your own data'); `mmgen train` trains on the generated data")
        if k not in options:
            near = difflib.get_close_matches(k, list(options), n=3, cutoff=0.5)
            raise UserError(f"unknown option {k!r} for {name}" + (f"; did you mean {' or '.join(near)}?" if near else '')
                            + f" (`mmgen train {name} --help` lists all {len(options)})")
        default, anno, doc = options[k]
        if not _fits(v, anno):
            tip = f"; one item is a tuple of one: --set \"{k}=({v!r},)\"" if 'tuple' in anno and not isinstance(v, (tuple, list)) else ''   # `--set templates=rel`
            raise UserError(f"--set {k}={v!r}: expected {anno} ({doc}), got {type(v).__name__}{tip}")
        if k in _AT_LEAST and isinstance(v, int) and v < _AT_LEAST[k]:
            raise UserError(f"--set {k}={v!r}: expected an integer >= {_AT_LEAST[k]} ({doc})")

# %% ../nbs/16_cli.ipynb #c1100008
class _Parser(argparse.ArgumentParser):
    "argparse, but a usage error is one line (what was wrong, where the help is) and exit status 2."
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")

def _positive(s:str) -> int:
    try: n = int(s)
    except ValueError: n = None
    if n is None or n < 1: raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {s!r}")
    return n

def _minutes(s:str) -> float:
    try: t = float(s)
    except ValueError: t = -1
    if not t >= 0: raise argparse.ArgumentTypeError(f"expected minutes >= 0 (0: off), got {s!r}")
    return t

def _mass(s:str) -> float:
    try: p = float(s)
    except ValueError: p = -1
    if not 0 < p <= 1: raise argparse.ArgumentTypeError(f"expected a probability mass in (0, 1], got {s!r}")
    return p

def _temperature(s:str) -> float:
    try: t = float(s)
    except ValueError: t = -1
    if not 0 < t < float('inf'): raise argparse.ArgumentTypeError(f"expected a temperature > 0 (for the most probable token use --method greedy), got {s!r}")
    return t

def _key_value(s:str) -> tuple[str, object]:
    "'lr=1e-3' -> ('lr', 0.001); a value that is no Python literal stays a string ('parallel=fsdp')."
    k, sep, v = s.partition('=')
    if not sep or not k.isidentifier(): raise argparse.ArgumentTypeError(f"expected KEY=VALUE with KEY a name, got {s!r}")
    try: return k, ast.literal_eval(v)
    except (ValueError, SyntaxError): return k, v

def preset_values(spec:SystemSpec, # a registered system
                  full:bool=False, # the preset `--full` runs instead of the default one
                  preset:str|None=None, # the preset `--set preset=NAME` names (shown over `full`'s; `train` refuses the two together where they differ: `mmgen.core.pick_preset`)
                 ) -> tuple[str|None, dict]:
    "The preset `mmgen train NAME` runs and the option values it sets (its module's PRESETS entry: a dict, or a tuple of dicts, a nested `cfg` dict read as options too); (None, {}) without one."
    name = preset or ('full' if full else spec.preset)
    entry = getattr(importlib.import_module(spec.module), 'PRESETS', {}).get(name)
    if entry is None: return None, {}
    dicts = entry if isinstance(entry, tuple) else (entry,)
    return name, {'preset': name, **{k: v for d in dicts for k, v in d.get('cfg', {}).items()},
                  **{k: v for d in dicts for k, v in d.items() if k != 'cfg'}}

def preset_costs(spec:SystemSpec, # a registered system
                ) -> dict[str, str]:
    "Each preset of the system's module (PRESETS) -> what a run of it costs, from the module's PRESET_COSTS ('not timed' where it records none)."
    mod = importlib.import_module(spec.module)
    costs = getattr(mod, 'PRESET_COSTS', {})
    return {k: costs.get(k, 'not timed') for k in getattr(mod, 'PRESETS', {})}

def _presets_help(spec:SystemSpec) -> str:
    "The --help lines that list the presets, which one the command runs, and what each costs."
    rows = preset_costs(spec)
    if not rows: return ''
    tag = lambda k: ' (default)' if k == spec.preset else ' (--full)' if k == 'full' else ''
    w = max(len(k + tag(k)) for k in rows)
    return (f"presets of {spec.name} (--set preset=NAME; a run costs):\n"
            + '\n'.join(f"  {k + tag(k):<{w}}  {c}" for k, c in rows.items()) + '\n\n')

def option_values(spec:SystemSpec, # a registered system
                  full:bool=False, # as `mmgen train NAME --full`
                  preset:str|None=None, # as `--set preset=NAME`
                 ) -> tuple[str|None, dict]:
    "The preset the command runs and the value it uses of each option: the preset's, else the system's own (its module's `SETS_ITSELF`: a value or a `mmgen.core.Derived`), else the default; an option with none is left out."
    name, values = preset_values(spec, full, preset)
    own = system_declares(spec, 'SETS_ITSELF', {})
    out = {k: values[k] if k in values else own[k] if k in own else d for k, (d, a, doc) in system_options(spec).items()}
    out = {k: out.get(v) if isinstance(v, FromOption) else v for k, v in out.items()}   # a field the system takes from another option: that option's value
    return name, {k: v for k, v in out.items() if v is not dataclasses.MISSING and v is not inspect.Parameter.empty}

def stage_notes(spec:SystemSpec, # a registered system
                values:dict, # the value the command uses of each option (`option_values`): the first stage's
               ) -> dict[str, str]:
    "Option -> what the system's later stages use instead (its module's `STAGES`: each value a later stage sets itself, equal to the first stage's or not, for the option does not reach it), e.g. 'the student stage; the teacher stage uses 0.0005 (teacher_lr)'."
    first_sets, stages = system_declares(spec, 'SETS_ITSELF', {}), system_declares(spec, 'STAGES', {})
    first = system_declares(spec, 'RUN_WRITES', _ANY_STAGE)[0][0]
    def value(w): return values.get(w) if isinstance(w, FromOption) else w
    def shown(w): return f"<derived: {w}>" if isinstance(w, Derived) else f"{values[w]!r} ({w})" if isinstance(w, FromOption) and w in values else repr(value(w))
    notes = {}
    for k, v in values.items():
        f = next((f for f, w in first_sets.items() if isinstance(w, FromOption) and w == k), k)   # the TrainConfig field option k sets in the first stage (vq-art's lr from vq_lr)
        later = [f"the {s} stage uses {shown(d[f])}" for s, d in stages.items() if f in d]
        if later: notes[k] = f"the {first if first != '.' else 'first'} stage; " + ', '.join(later)
    return notes

def _options_help(spec:SystemSpec, full:bool=False, asked:str|None=None) -> str:
    "The --help epilog: every option with the value the command uses (its preset's, else the system's own, else its default) and its meaning."
    preset, values = option_values(spec, full, asked)
    notes = stage_notes(spec, values)
    def row(k, doc):
        if k not in values: return k, doc
        if k in notes: doc = f"{doc} ({notes[k]})"   # a later stage trains at another value
        if isinstance(values[k], Derived): return f"{k}=<derived>", f"{doc} ({spec.name} derives it: {values[k]}, unless given)"
        return f"{k}={values[k]!r}", doc
    rows = [row(k, doc) for k, (d, a, doc) in system_options(spec).items()]
    w = min(max((len(r[0]) for r in rows), default=0), 34)
    how = f' (--set preset={asked})' if asked else ' (--full)' if full else ''
    own = ", else the system's own" if set(system_declares(spec, 'SETS_ITSELF', {})) & set(values) else ''
    shown = f"shown with the values the {preset!r} preset{how} sets{own}, else their defaults" if preset else "shown with the system's own values, else their defaults" if own else "shown with their defaults"
    return _presets_help(spec) + f"options of {spec.name} (--set KEY=VALUE; {shown}):\n" + '\n'.join(f"  {k:<{w}}  {doc}" for k, doc in rows)

CAPTIONS = ('captioner', 'distilled', 'shared-latent')   # systems whose runs `mmgen caption` reads
METHODS = ('greedy', 'beam', 'top-p')                    # `mmgen caption --method`: each system's generate calls them 'greedy', 'beam', 'top_p'
DECODING = dict(beam_size=4, top_p=0.9, temperature=1.0, seed=0)   # `mmgen caption`'s defaults for the options of one method
USES = dict(beam_size='beam', top_p='top-p', temperature='top-p', seed='top-p')   # option -> the method that reads it
DRAWS = ('vq-art', 'shared-latent')                      # systems whose runs `mmgen draw` reads
RETRIEVES = ('paired-retrieval',)                        # systems whose runs `mmgen retrieve` reads

def _either(names) -> str: return ', '.join(names[:-1]) + f' or {names[-1]}' if len(names) > 1 else names[0]

def _asked_preset(argv:list[str]) -> str|None:
    "The preset a `--set preset=NAME` in `argv` names (the last one, as `--set` keeps the last), for `--help`; None without one."
    sets = [b if a == '--set' else b.removeprefix('--set=') for a, b in zip(['', *argv], argv) if a == '--set' or b.startswith('--set=')]   # in order
    names = [_key_value(s)[1] for s in sets if s.partition('=')[0] == 'preset']
    return names[-1] if names else None

def _parser(spec:SystemSpec|None=None, full:bool=False, asked:str|None=None) -> argparse.ArgumentParser:
    "The command line; with `spec`, `mmgen train NAME --help` ends with that system's options."
    p = _Parser(prog='mmgen', description='mmgen: a notebook-first workbook for multimodal generation')
    sub = p.add_subparsers(dest='cmd', required=True, parser_class=_Parser)
    sub.add_parser('list', help='list the trainable systems')
    t = sub.add_parser('train', help='train a system on its embedded dataset', formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog=_options_help(spec, full, asked) if spec else 'mmgen train NAME --help lists the options of system NAME')
    t.add_argument('system', help='system name (see `mmgen list`)')
    t.add_argument('--out', default=None, help='output folder (default: runs/SYSTEM)')
    t.add_argument('--epochs', type=_positive, default=None, help="epochs (default: the system's own)")
    t.add_argument('--full', action='store_true', help='full-size configuration (meant for a GPU)')
    t.add_argument('--set', action='append', default=[], metavar='KEY=VALUE', type=_key_value,
                   help="override one option of the system (listed below), e.g. --set moe=True --set lr=1e-3 "
                        "(repeatable; VALUE is a Python literal, else a string)")
    g = t.add_mutually_exclusive_group()
    g.add_argument('--resume', action='store_true', help='go on from the last state saved in --out (after Ctrl-C or a kill)')
    g.add_argument('--overwrite', action='store_true', help='start over in an --out that holds a run of this system (that run is removed first; refused if the folder also holds files a run does not write); in a folder that holds no run, write over files named as the run\'s own')
    t.add_argument('--save-every', type=_positive, default=None, metavar='STEPS', help='also save the resumable state every STEPS steps')
    t.add_argument('--save-minutes', type=_minutes, default=None, metavar='T', help='save it every T minutes (default 5; 0: off)')
    c = sub.add_parser('caption', help=f'caption images with a trained {_either(CAPTIONS)} run',
                       description='mmgen caption RUN IMAGE... prints one caption per image, `path: caption` (or a JSON object with --json), '
                                   'each image read at the side the run was trained at.')
    c.add_argument('run', help=f'a folder written by `mmgen train NAME --out RUN`, NAME one of {", ".join(CAPTIONS)} (or by its train(...))')
    c.add_argument('images', nargs='+', help='image files (any format PIL reads; other sizes are resized and centre-cropped)')
    c.add_argument('--method', choices=METHODS, default='greedy',
                   help='greedy: the most probable token each step; beam: beam search; top-p: nucleus sampling (default greedy)')
    c.add_argument('--beam-size', type=_positive, default=None, metavar='K', help=f"beams, with --method beam (default {DECODING['beam_size']})")
    c.add_argument('--top-p', type=_mass, default=None, metavar='P', help=f"nucleus mass in (0, 1], with --method top-p (default {DECODING['top_p']})")
    c.add_argument('--temperature', type=_temperature, default=None, metavar='T',
                   help=f"softmax temperature > 0, with --method top-p: < 1 sharper, > 1 flatter (default {DECODING['temperature']})")
    c.add_argument('--seed', type=int, default=None, metavar='S',
                   help=f"seed of the draws, with --method top-p: an image's caption depends on the seed, its pixels and how often it was named before it alone, "
                        f"so it is the same at any --batch-size, in any order, beside any other images (default {DECODING['seed']})")
    c.add_argument('--max-len', type=int, default=None, metavar='N', help="most tokens per caption, BOS and EOS included (default and most: the run's own)")
    c.add_argument('--batch-size', type=_positive, default=16, metavar='B', help='images decoded at once (default 16); greedy and beam give each image the caption it gets alone')
    c.add_argument('--json', action='store_true', help='print one JSON object per image, {"image": PATH, "caption": TEXT}, instead of `PATH: TEXT`')
    d = sub.add_parser('draw', help=f'draw pictures from prompts with a trained {_either(DRAWS)} run')
    d.add_argument('run', help=f'a folder written by `mmgen train NAME --out RUN`, NAME one of {", ".join(DRAWS)} (or by its train(...))')
    d.add_argument('prompts', nargs='+', help='one prompt per row of the grid (vq-art: adjectives, e.g. "warm vivid")')
    d.add_argument('--n', type=_positive, default=4, help='pictures per prompt (default 4)')
    d.add_argument('--out', default=None, help='the PNG to write (default RUN/draw.png)')
    d.add_argument('--seed', type=int, default=0, help='seed of the draws: picture j of a prompt depends on the seed, the prompt and j alone, so `draw RUN a b --n 4` draws for a the 4 pictures of `draw RUN a --n 4` (a prompt named twice: its next copies) (default 0)')
    r = sub.add_parser('retrieve', help='top captions of pair images, or top pair images of captions, with a trained paired-retrieval run',
                       description='mmgen retrieve RUN IMAGE... lists the top captions of each image (from all the pair captions of the run); '
                                   'mmgen retrieve RUN --text CAPTION... --gallery IMAGE... lists the top gallery images of each caption.')
    r.add_argument('run', help='a folder written by `mmgen train paired-retrieval --out RUN` (or by its train(...))')
    r.add_argument('images', nargs='*', help='pair images (two pictures side by side, at the size the run was trained at) to find captions for')
    r.add_argument('--text', action='append', default=[], metavar='CAPTION',
                   help="a pair caption to find images for, 'the photo on the left is A and the photo on the right is B' (repeatable; needs --gallery)")
    r.add_argument('--gallery', nargs='+', default=[], metavar='IMAGE', help='the pair images --text searches')
    r.add_argument('--k', type=_positive, default=5, help='results per query (default 5)')
    r.add_argument('--json', action='store_true', help='print one JSON object per query instead of K lines: {"image": PATH, "captions": [{"caption": TEXT, "score": S}, ...]}, '
                                                       'or with --text {"caption": TEXT, "images": [{"image": PATH, "score": S}, ...]}')
    sub.metavar = '{' + ','.join(sub.choices) + '}'   # argparse's display of the commands, also in its error when none is given (else 'cmd')
    return p

# %% ../nbs/16_cli.ipynb #c110000a
RUN_FILE = 'mmgen_run.json'   # what started the run in a folder: system and options (compared on --resume)
FIT_WRITES = ('latest.safetensors', 'latest_state.pt', 'best.safetensors', 'history.json', 'train_config.json', 'tb/*')   # what `fit` writes in a stage's folder (tb/: TensorBoard)
_ANY_STAGE = (('.', '*'), ('metrics.json',))   # the RUN_WRITES of a system whose module declares none (a stand-in in a test): `fit`'s files in any folder

def run_files(system:str, # a system's command-line name
             ) -> tuple[str, ...]:
    "fnmatch patterns of every path under --out that a run of `system` writes: its own files and the folders its stages `fit` in (its module's `RUN_WRITES`), `fit`'s files in each, the command's, and temporary files a kill left."
    stages, own = system_declares(system, 'RUN_WRITES', _ANY_STAGE)   # fnmatch patterns of paths under --out ('*' crosses folders)
    return (RUN_FILE, 'draw.png', '.*.tmp*', '*/.*.tmp*', *own,   # draw.png: `mmgen draw`'s default; .NAME.tmpPID: an atomic write cut short
            *(f if s == '.' else f'{s}/{f}' for s in stages for f in FIT_WRITES))

def _sort_files(out:Path, system:str, also:tuple=()) -> tuple[list[str], list[str]]:
    "The files under `out` (sorted paths relative to it) that a run of `system` writes (or match `also`), and the others (links too: a run writes none)."
    pats, found = run_files(system) + tuple(also), ([], [])
    for root, dirs, files in os.walk(out):   # links to folders are listed, not followed
        for n in files + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            p = Path(root, n).relative_to(out).as_posix()
            found[os.path.islink(os.path.join(root, n)) or not any(fnmatch.fnmatchcase(p, q) for q in pats)].append(p)
    return sorted(found[0]), sorted(found[1])

def foreign_files(out:Path, # a run folder
                  system:str, # the system whose run it holds
                  also:tuple=(), # more fnmatch patterns of files this run wrote (`run_cache`: the cache it was given under `out`)
                 ) -> list[str]:
    "The files under `out` that no run of `system` writes (links too: a run writes none), as sorted paths relative to `out`: what `--overwrite` must not delete."
    return _sort_files(out, system, also)[1]

def run_cache(out:Path, # a run folder
              record:dict, # what started the run there (its `RUN_FILE`)
             ) -> tuple[str, ...]:
    "The fnmatch pattern of the data cache the recorded run was given (`--set cache_dir=...`) where that lies inside `out`: the run rendered it, so `--overwrite` deletes it with the run."
    c = record.get('set', {}).get('cache_dir')
    if not isinstance(c, str) or not c: return ()
    try: rel = Path(c).resolve().relative_to(out.resolve())   # a relative cache_dir is the shell's folder's, as the run read it
    except ValueError: return ()   # outside the run's folder: not the run's to delete
    return (f'{rel.as_posix()}/*',) if rel.parts else ()   # the run folder itself: its files are judged one by one

def clashing_files(out:Path, # a folder that holds no run (no RUN_FILE, no saved state)
                   system:str, # the system about to run in it
                  ) -> list[str]:
    "The files under `out` named as a run of `system` names its own (a `config.json`, a `metrics.json` ...), as sorted paths relative to `out`: what a fresh run there would write over."
    return _sort_files(out, system)[0]

def _record(args) -> dict:
    "What started the run: system and options, a relative `cache_dir` as the folder it named from where the command ran (so a --resume or --overwrite from another folder reads the same one)."
    where = lambda k, v: str(Path(v).expanduser().resolve()) if k == 'cache_dir' and isinstance(v, str) and v else v
    return dict(system=args.system, full=args.full, epochs=args.epochs, set={k: where(k, v) for k, v in args.set})

def _go_on(args, out:Path) -> str:
    "The command that resumes this run, with the options and save cadence it was started with."
    sets = [f"--set {shlex.quote(f'{k}={v!r}' if isinstance(v, str) and not v.isidentifier() else f'{k}={v}')}" for k, v in _record(args)['set'].items()]   # a relative cache_dir as the folder it named
    return ' '.join(['mmgen train', args.system, '--out', shlex.quote(str(out))] + ['--full'] * args.full
                    + ([f'--epochs {args.epochs}'] if args.epochs else []) + sets
                    + [f'--{k.replace("_", "-")} {v:g}' for k in ('save_every', 'save_minutes') if (v := getattr(args, k, None)) is not None] + ['--resume'])

def prepare_out(out:Path, # the run folder
                args, # parsed `mmgen train` arguments
               ):
    "Refuse a folder that cannot be written, one holding another run (unless --resume / --overwrite), a --resume with options that change the run, an --overwrite of a folder holding files no run writes and a fresh run over the user's files named as its own (unless --overwrite); record this run's."
    from mmgen.train import RESUME_FREE   # how a run is carried out (progress, verbose, log_every, device ...): these may change on resume
    writable_dir(out)   # a read-only folder (Kaggle's /kaggle/input): one line naming it and the remedy, before anything is deleted or written
    states, rec_file = sorted(out.rglob('latest_state.pt')) if out.exists() else [], out / RUN_FILE
    held = bool(states)   # a run that stopped before its first save (bad options, Ctrl-C at once) left nothing to resume or lose
    rec = json.loads(rec_file.read_text()) if rec_file.exists() else {}
    other = rec.get('system')
    if other and other != args.system and (args.resume or args.overwrite):
        raise UserError(f"{out} holds a {other} run, not a {args.system} one: --resume and --overwrite act on a run of the same system; "
                        f"pick another --out (or delete {out} yourself)")
    if held and not (args.resume or args.overwrite):
        raise UserError(f"{out} holds another run{f' (of {other})' if other else ''} ({states[0]}): go on with it with --resume, "
                        f"or start over with --overwrite (or pick another --out)")
    if args.resume and rec_file.exists():
        old, new = json.loads(rec_file.read_text()), json.loads(json.dumps(_record(args), default=str))
        diff = [f"{k}: {old.get(k)!r} -> {new[k]!r}" for k in ('system', 'full', 'epochs') if old.get(k) != new[k]]
        diff += [f"--set {k}: {old['set'].get(k, '(unset)')!r} -> {new['set'].get(k, '(unset)')!r}" for k in sorted(set(old.get('set', {})) | set(new['set']))
                 if k not in RESUME_FREE and old.get('set', {}).get(k) != new['set'].get(k)]
        if diff: raise UserError(f"cannot resume {out} with options that change the run ({'; '.join(diff)}): leave them out (a resume takes "
                                 f"the recorded ones) or start over in another folder; only how it runs ({', '.join(RESUME_FREE[1:])}) may change")
    if not (held or rec_file.exists() or args.overwrite) and (theirs := clashing_files(out, args.system)):   # no run here: these are the user's
        raise UserError(f"{out} holds no mmgen run, but {len(theirs)} file{'s' * (len(theirs) > 1)} named as a {args.system} run names its own ({', '.join(theirs[:3])}{', ...' * (len(theirs) > 3)}), "
                        f"which the run would write over: move {'them' if len(theirs) > 1 else 'it'} out of {out}, pick another --out, or pass --overwrite to write over {'them' if len(theirs) > 1 else 'it'}")
    if args.overwrite and (held or rec_file.exists()):   # the old run goes whole: none of its files (a prior, a best checkpoint, metrics) may pass for the new run's
        here, cwd = out.resolve(), Path.cwd().resolve()
        if here == Path.home().resolve() or here == cwd or here in cwd.parents: raise UserError(f"--overwrite would delete {out}, which holds the current or home folder: pick another --out")
        if mine := foreign_files(out, args.system, run_cache(out, rec)):   # the user's files (notes, pictures, another experiment) are never the run's to delete
            raise UserError(f"--overwrite deletes the run in {out}, but {out} also holds {len(mine)} file{'s' * (len(mine) > 1)} a {args.system} run does not write "
                            f"({', '.join(mine[:3])}{', ...' * (len(mine) > 3)}): move {'them' if len(mine) > 1 else 'it'} out of {out}, or pick another --out")
        shutil.rmtree(out); print(f"mmgen: --overwrite: removed the previous run in {out}", file=sys.stderr)
    out.mkdir(parents=True, exist_ok=True)
    rec_file.write_text(json.dumps(_record(args), indent=1, default=str))

# %% ../nbs/16_cli.ipynb #c110000c
EXAMPLE_PROMPTS = {'vq-art': 'warm vivid', 'shared-latent': 'a small red circle'}   # a prompt each drawing system reads

def next_steps(system:str, # a system's command-line name
               out:Path, # the folder its run was written to
              ) -> list[str]:
    "The commands that use a finished run of `system` in `out`, which `mmgen train` prints last."
    o = shlex.quote(str(out))
    return ([f"mmgen caption {o} IMAGE.png"] * (system in CAPTIONS)
            + [f"mmgen draw {o} {shlex.quote(EXAMPLE_PROMPTS.get(system, 'PROMPT'))}"] * (system in DRAWS)
            + [f"mmgen retrieve {o} PAIR_IMAGE.png"] * (system in RETRIEVES))

def _scalars(d:dict, at:tuple=()) -> list[tuple[tuple, int|float]]:
    "(key path, number) of every number in `d` and in the dicts nested in it, in order; strings, flags and lists (tables, samples) skipped."
    out = []
    for k, v in d.items():
        if isinstance(v, dict): out += _scalars(v, (*at, k))
        elif isinstance(v, (int, float)) and not isinstance(v, bool): out.append(((*at, k), v))
    return out

def metrics_summary(metrics:dict, # what a system's `train` returns (also in OUT/metrics.json)
                    width:int=100, # characters per line
                    nested:int=24, # at most this many figures from nested dicts (vq-art's `vq.usage`, ...), the rest counted
                   ) -> list[str]:
    "The run's scalar figures, `name value` in lines of `width`, a nested dict's by dotted name (`vq.usage`); lists, tables and samples stay in metrics.json."
    def show(v): return f"{v:.4g}" if isinstance(v, float) else str(v)
    figs = _scalars(metrics)
    deep = [p for p, _ in figs if len(p) > 1][nested:]   # the nested figures past the first `nested`: counted, not shown
    items = [f"{'.'.join(map(str, p))} {show(v)}" for p, v in figs if p not in deep]
    if deep: items.append(f"(+{len(deep)} nested figures)")
    return textwrap.wrap('  '.join(items), width, break_long_words=False, break_on_hyphens=False)

def stop_notes(metrics:dict, # what a system's `train` returns
               run:Path|None=None, # its folder: each stage's history.json says why that stage ended, where `metrics` does not
              ) -> list[str]:
    "Why a run (or a stage of it, by dotted name or folder) ended before its plan did, from its `stop_reason` figures: a time budget, early stopping, a callback; 'finished' and 'max_steps reached' are the plan's own end."
    out, plan_end = [], ('', 'finished', 'max_steps reached')
    def walk(d, at):
        for k, v in d.items():
            if isinstance(v, dict): walk(v, (*at, k))
            elif k == 'stop_reason' and isinstance(v, str) and v not in plan_end: out.append(f"{'.'.join(at) + ': ' if at else ''}{v}")
    walk(metrics, ())
    for h in sorted(Path(run).rglob('history.json')) if run is not None else ():   # the stages' `fit` folders (vq-art's vq/ and prior/, shared-latent's, ...)
        try: why = json.loads(h.read_text()).get('stop_reason', '')
        except (OSError, ValueError, AttributeError): continue
        if isinstance(why, str) and why not in plan_end and not any(n.endswith(why) for n in out):
            out.append(f"{h.parent.relative_to(run).as_posix() + ': ' if h.parent != Path(run) else ''}{why}")
    return out

def _started_with(args, # parsed `mmgen train ... --resume` arguments
                  out:Path, # the run folder
                 ):
    "--resume takes the options the run in `out` was started with (its RUN_FILE) where the command does not name them; whether it took any (nothing without a record)."
    try: rec = json.loads((out / RUN_FILE).read_text())
    except (OSError, ValueError): return False
    if rec.get('system') != args.system: return False   # `prepare_out` refuses another system's run
    given = dict(args.set)
    taken = bool(rec.get('full')) > args.full or (rec.get('epochs') and not args.epochs) or bool(set(rec.get('set', {})) - set(given))
    args.full, args.epochs = args.full or bool(rec.get('full')), args.epochs or rec.get('epochs')
    args.set = [(k, tuple(v) if isinstance(v, list) else v) for k, v in rec.get('set', {}).items() if k not in given] + list(given.items())   # JSON wrote tuples as lists
    return bool(taken)

class _Terminated(KeyboardInterrupt):
    "SIGTERM outside a training step (making data, evaluating, between stages): `mmgen train` stops as Ctrl-C there stops it."

def _on_signal(signum, frame):
    "Ctrl-C or SIGTERM outside a training step: stop now; should the exception be lost in a finaliser, the next `fit` stops after its first step (`request_stop`)."
    import signal
    from mmgen.train import request_stop
    request_stop('SIGTERM' if signum == signal.SIGTERM else 'Ctrl-C')
    raise _Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()

def renamed_options(spec:SystemSpec, # a registered system
                    overrides:dict, # --set KEY=VALUE pairs (a resumed run's recorded ones among them)
                    options:dict, # `system_options` of the system
                   ) -> dict:
    "`overrides` with an option's old name (its module's `RENAMED`) read as its new one where only the new option takes the value (a run saved before the rename), said on stderr."
    out = dict(overrides)
    for old, new in system_declares(spec, 'RENAMED', {}).items():
        if old not in out or new in out or new not in options or (old in options and _fits(out[old], options[old][1])) or not _fits(out[old], options[new][1]): continue
        out[new] = out.pop(old)
        print(f"mmgen: --set {old}={out[new]!r} read as --set {new}={out[new]!r}, its name before" + (f"; {old} is now: {options[old][2]}" if old in options else ''), file=sys.stderr)
    return out

def _train(args, spec:SystemSpec) -> int:
    import signal, threading
    from mmgen.train import fit_options, stop_pending, TrainingInterrupted, NonFiniteLossError, TrainingOutOfMemory
    out = Path(args.out or f'runs/{args.system}')
    took = args.resume and _started_with(args, out)
    overrides = renamed_options(spec, dict(args.set), opts := system_options(spec))
    check_overrides(args.system, overrides, opts)
    rank0, fresh, had_record = int(os.environ.get('RANK', 0)) == 0, not out.exists(), (out / RUN_FILE).exists()
    if rank0: prepare_out(out, args)   # under torchrun rank 0 checks and records the folder
    if int(os.environ.get('WORLD_SIZE', 1)) > 1:   # the other ranks write into it only once rank 0 has checked it (and, with --overwrite, emptied it)
        import torch.distributed as dist; from mmgen.parallel import init_distributed
        init_distributed(); dist.barrier()
    if rank0 and took: print(f"mmgen: resuming with the options {out} was started with: {_go_on(args, out)}", file=sys.stderr)
    if rank0 and args.resume and not any(out.rglob('latest_state.pt')): print(f"mmgen: --resume: nothing saved in {out} yet (no latest_state.pt): the run starts from its beginning", file=sys.stderr)
    t0, main_thread = time.time(), threading.current_thread() is threading.main_thread()
    sigs = [s for s in (signal.SIGINT, signal.SIGTERM) if main_thread and signal.getsignal(s) is not signal.SIG_IGN]   # a background job's ignored Ctrl-C stays ignored
    prev = {s: signal.signal(s, _on_signal) for s in sigs}   # `fit` takes them over while it trains (finish the step, save) and gives them back
    try:
        with fit_options(resume=args.resume, save_every=args.save_every, save_minutes=args.save_minutes):
            metrics = spec.load()(out_dir=out, epochs=args.epochs, full=args.full, **overrides)
    except UserError:   # an option the system refused before anything ran: a folder made for it goes again
        if rank0 and fresh and [f.name for f in out.iterdir()] == [RUN_FILE]: shutil.rmtree(out)
        elif rank0 and not had_record: (out / RUN_FILE).unlink(missing_ok=True)   # a run trained from Python (no record) is left as it was
        raise
    except (NonFiniteLossError, TrainingOutOfMemory) as e:   # the message names the step, what was kept and what to try
        print(f"mmgen: {e}", file=sys.stderr)
        return 1
    except TrainingInterrupted as e:
        try: stage = Path(e.saved).resolve().parent.relative_to(out.resolve()).as_posix()   # a system of several stages: which one
        except (TypeError, ValueError): stage = '.'
        at = f"step {e.step} (epoch {e.epoch + 1})" + (f" of its {stage!r} stage" if stage != '.' else '')
        print(f"mmgen: stopped by {e.by} at {at}; saved {e.saved}; go on with: {_go_on(args, out)}", file=sys.stderr)
        return 143 if e.by == 'SIGTERM' else 130   # 128 + the signal, as a shell reports a process it ended
    except KeyboardInterrupt as e:
        by = 'SIGTERM' if isinstance(e, _Terminated) else 'Ctrl-C'
        stop_pending(clear=True)
        states = sorted(out.rglob('latest_state.pt'), key=lambda p: p.stat().st_mtime)
        print(f"mmgen: stopped by {by} outside a training step; " + (f"the last saved state is {states[-1]}; go on with: {_go_on(args, out)}"
              if states else "no training state was saved yet"), file=sys.stderr)
        return 143 if by == 'SIGTERM' else 130
    finally:
        for s, h in prev.items(): signal.signal(s, h if h is not None else signal.SIG_DFL)
        lost = stop_pending(clear=True)   # asked outside a step, its exception lost in a finaliser, and no `fit` came after to honour it
    print(f"mmgen: trained {args.system} in {time.time()-t0:.0f}s -> {out}")
    if lost: print(f"mmgen: {lost} came outside a training step as the run was ending, and no step came after it to stop at: the run finished whole", file=sys.stderr)
    if metrics:   # under torchrun only rank 0 returns metrics
        for line in metrics_summary(metrics): print(line)
        for why in stop_notes(metrics, out): print(f"ended before its plan: {why}")   # --epochs 50 under a preset's clock trains what the clock allows
        if isinstance(metrics.get('resumed'), str): print(metrics['resumed'])   # where it went on (the time above is this process's)
        print(f"every figure: {out / 'metrics.json'}")
        for line in next_steps(args.system, out): print(f"use it: {line}")
    return 0

def main(argv:list[str]|None=None) -> int:
    "Entry point of the `mmgen` console script; returns the exit status (1: training diverged or ran out of memory, 2: a usage error, 130 / 143: stopped by Ctrl-C / SIGTERM)."
    argv = sys.argv[1:] if argv is None else list(argv)
    spec = find_system(argv[1]) if len(argv) > 1 and argv[0] == 'train' else None   # for `train NAME --help`; `list`, `caption`, ... import only the system they read
    try: args = _parser(spec, '--full' in argv, _asked_preset(argv)).parse_args(argv)
    except SystemExit as e: return e.code if isinstance(e.code, int) else 2
    try:
        if args.cmd == 'list':
            lines = system_lines()
            w = max(map(len, lines), default=0)
            for name, doc in sorted(lines.items()): print(f"{name:<{w}}  {doc}")
            return 0
        if args.cmd == 'caption': return _caption(args)
        if args.cmd == 'draw': return _draw(args)
        if args.cmd == 'retrieve': return _retrieve(args)
        if (spec := find_system(args.system)) is None:
            names = list(system_lines())
            near = difflib.get_close_matches(args.system, names, n=2)
            raise UserError(f"unknown system {args.system!r}" + (f"; did you mean {' or '.join(near)}?" if near else '')
                            + f" (expected one of: {', '.join(sorted(names))})")
        return _train(args, spec)
    except UserError as e:
        print(f"mmgen: {e}", file=sys.stderr)
        return 2

# %% ../nbs/16_cli.ipynb #1f0e2a02
SYSTEM_FILES = {  # system -> files its loader requires that mark its folder (read when a folder has no RUN_FILE), tried in this order
    'captioner': ('captioner_config.json', 'tokenizer.json'),
    'distilled': ('distilled_config.json', 'tokenizer.json', 'student'),
    'vq-art': ('vqvae.safetensors', 'prior.safetensors', 'config.json'),
    'shared-latent': ('config.json', 'tokenizer.json'),     # after vq-art, whose folder holds both too
    'paired-retrieval': ('config.json', 'best.safetensors'),
}

SYSTEM_WEIGHTS = {  # system -> (the sub-folder its model's weights are saved in from the first step on; top-level modules only its model has)
    'captioner': ('.', ('encoder', 'decoder', 'img_proj', 'txt_proj')),
    'distilled': ('student', ('student', 'mem_proj', 'decoder')),
    'vq-art': ('vqvae', ('encoder', 'quantizer', 'decoder')),
    'shared-latent': ('.', ('image_encoder', 'image_decoder', 'text_encoder', 'text_decoder')),
    'paired-retrieval': ('.', ('image', 'text', 'loss')),
}

def weight_modules(folder:str|Path, # a folder of .safetensors files
                  ) -> set[str]:
    "The top-level module names of the weights in `folder`'s .safetensors files (their headers only; unreadable files skipped)."
    from safetensors import safe_open
    names = set()
    for f in sorted(Path(folder).glob('*.safetensors')):
        try:
            with safe_open(f, 'pt') as w: names |= {k.split('.')[0] for k in w.keys()}
        except Exception: continue   # truncated, or no safetensors file
    return names

def run_system(folder:str|Path, # a run folder
              ) -> str|None:
    "The system that trained into `folder`: the one its RUN_FILE names, else the one whose model its weights are (`SYSTEM_WEIGHTS`), else the first whose `SYSTEM_FILES` it holds; None if none."
    p = Path(folder)
    try: return json.loads((p / RUN_FILE).read_text())['system']
    except (OSError, ValueError, KeyError, TypeError): pass   # no record (a run from Python), or not one `mmgen train` wrote
    if s := next((s for s, (at, mods) in SYSTEM_WEIGHTS.items() if set(mods) <= weight_modules(p / at)), None): return s
    return next((s for s, need in SYSTEM_FILES.items() if all((p / f).exists() for f in need)), None)

def _finish(run:str, system:str) -> str:
    "How to finish the stopped run in folder `run`: the command its RUN_FILE records, else the bare one and a reminder of the options."
    try: rec = json.loads((Path(run) / RUN_FILE).read_text())
    except (OSError, ValueError): return f"`mmgen train {system} --out {shlex.quote(str(run))} --resume` and the options it was started with"
    args = argparse.Namespace(system=system, full=rec.get('full', False), epochs=rec.get('epochs'), set=list(rec.get('set', {}).items()))
    return f"`{_go_on(args, Path(run))}`"

def _run_of(run:str, # the folder the user named
            cmd:str, # 'caption' | 'draw'
            systems:tuple, # the systems the command reads
           ) -> str:
    "The system of run folder `run` if `cmd` reads it, else a UserError naming what the folder holds and which systems `cmd` reads."
    s = run_system(run) if Path(run).is_dir() else None
    if s in systems:
        if missing := [f for f in SYSTEM_FILES[s] if not (Path(run) / f).exists()]:
            raise UserError(f"{run} holds a {s} run that has not finished: it has no {', '.join(missing)} yet (written when training ends); "
                            f"finish it with {_finish(run, s)}")
        return s
    held = (f"holds a {s} run, which does not {cmd}" if s else "holds no trained run (no mmgen_run.json, nor the files of a system)"
            ) if Path(run).is_dir() else "is a file, not a run folder" if Path(run).exists() else "does not exist"
    raise UserError(f"{run} {held}: `mmgen {cmd}` reads a run of {_either(systems)} (train one with `mmgen train {systems[0]} --out DIR`)")

# %% ../nbs/16_cli.ipynb #1f0e2a08
def _captioner(system:str, run:str) -> tuple:
    "(caption, side, max_len, device) of a run folder of `system`: caption(pictures (B,3,S,S), **decoding) -> B captions, S = side, the run's."
    if system == 'captioner':    # decoding: method ('greedy' | 'beam' | 'top_p'), max_len, beam_size, top_p, temperature, generator (one per picture)
        from mmgen.captioner import load_captioner
        m, tok = load_captioner(run)
        fn, side = (lambda x, **kw: m.caption(x, tok, **kw)), m.cfg.image_size or 64   # a folder from before image_size was recorded: 64, the default side
    elif system == 'distilled':
        from mmgen.distilled import load_distilled
        m, tok = load_distilled(run)
        fn, side = (lambda x, **kw: m.caption(x, tok, **kw)), m.cfg.img_size
    else:
        from mmgen.shared_latent import load_shared_latent, caption_images
        m, tok = load_shared_latent(run)
        fn, side = (lambda x, **kw: caption_images(m, tok, x, batch_size=len(x), **kw)), m.cfg.img_size
    return fn, side, m.cfg.max_len, next(m.parameters()).device

def _load(loader, *a):
    "Run a loader; a folder it cannot read (missing files, a config of another version) is the user's error, in one line."
    try: return loader(*a)
    except (FileNotFoundError, ValueError) as e: raise UserError(str(e)) from e

def decoding_options(args) -> dict:
    "The keywords of the systems' `generate` that `mmgen caption`'s options ask for; an option the --method does not read is refused."
    if given := [k for k, m in USES.items() if getattr(args, k) is not None and m != args.method]:
        names, meth = ' and '.join(f"--{k.replace('_', '-')}" for k in given), ' / '.join(dict.fromkeys(f"--method {USES[k]}" for k in given))
        raise UserError(f"{names} {'applies' if len(given) == 1 else 'apply'} to {meth} only, not to --method {args.method}: "
                        f"drop {'it' if len(given) == 1 else 'them'}, or pass {meth}")
    get = lambda k: DECODING[k] if getattr(args, k) is None else getattr(args, k)
    kw = dict(method=args.method.replace('-', '_'), max_len=args.max_len)
    if args.method == 'beam': kw.update(beam_size=get('beam_size'))
    if args.method == 'top-p': kw.update(top_p=get('top_p'), temperature=get('temperature'), seed=get('seed'))
    return kw

PROGRESS_FROM = 64   # `mmgen caption` shows a progress bar from this many images on (and only on a terminal)

def caption_progress(n:int, # images to caption
                     file=None, # where the bar goes (default sys.stderr)
                    ):
    "The tqdm bar of `mmgen caption`: off below PROGRESS_FROM images and where `file` is no terminal (a log file gets no bar)."
    from tqdm import tqdm
    return tqdm(total=n, unit='image', desc='captioning', file=file or sys.stderr, leave=False, disable=True if n < PROGRESS_FROM else None)

def _unreadable(f:str) -> str|None:
    "Why image file `f` cannot be read (missing, a folder, no image PIL knows: its header only is read), else None."
    from PIL import Image
    if Path(f).is_dir(): return f"a folder, not an image file (name its images, e.g. {os.path.join(f, '*.png')})"
    if not Path(f).is_file(): return 'no such file'
    try:
        with Image.open(f): return None
    except Exception as e: return f"{type(e).__name__}: {e}"

def _skip_unreadable(files:list[str], # image paths the user named
                    ) -> tuple[list[str], int]:
    "`files` less those that cannot be read, each of which is named on stderr in one line (why), before a model loads; and how many those were."
    bad = {f: w for f in dict.fromkeys(files) if (w := _unreadable(f))}
    for f, w in bad.items(): print(f"mmgen: cannot read image {f}: {w}", file=sys.stderr)
    return [f for f in files if f not in bad], len(bad)

def _read(f:str, side:int):
    "Image file `f` as a (3, side, side) tensor in [-1, 1] (shorter side resized, centre-cropped); a UserError if it does not read."
    from mmgen.data import to_tensor
    from mmgen.user_data import load_image
    try: return to_tensor(load_image(f, side))
    except Exception as e: raise UserError(f"cannot read image {f}: {type(e).__name__}: {e}") from e

def _one_line(text:str) -> str:
    "A caption as one printable line: control characters (a newline, which a byte-level tokenizer can decode) escaped as Python writes them."
    return ''.join(ch if ch.isprintable() else ch.encode('unicode_escape').decode('ascii') for ch in text)

def _caption(args) -> int:
    import torch
    from mmgen.core import row_generators
    from mmgen.user_data import picture_keys
    from tqdm import tqdm
    kw = decoding_options(args)                                   # before anything loads: a refused option costs nothing
    system = _run_of(args.run, 'caption', CAPTIONS)
    images, failed = _skip_unreadable(args.images)   # the others are captioned; the exit status says some were not
    if not images: return 2                          # nothing to caption: no model loads
    caption, side, most, dev = _load(_captioner, system, args.run)
    if args.max_len is not None and not 2 <= args.max_len <= most:
        raise UserError(f"--max-len {args.max_len}: this {system} run writes captions of 2 to {most} tokens (BOS and EOS included)")
    seed, seen = kw.pop('seed', None), {}   # top-p: an image draws from (seed, its pixels, its copy index in the whole list) alone
    with caption_progress(len(images)) as bar:
        for i in range(0, len(images), args.batch_size):
            files, xs = [], []
            for f in images[i:i + args.batch_size]:   # a file whose header reads but whose pixels do not (truncated): named, skipped
                try: xs.append(_read(f, side)); files.append(f)
                except UserError as e: failed += 1; tqdm.write(f"mmgen: {e}", file=sys.stderr)
            if files:
                x = torch.stack(xs)
                if seed is not None: kw['generator'] = row_generators(seed, picture_keys(x), dev, seen)   # `seen`: copies counted across batches
                for f, c in zip(files, caption(x, **kw)):
                    tqdm.write(json.dumps(dict(image=f, caption=c), ensure_ascii=False) if args.json else f"{f}: {_one_line(c)}", file=sys.stdout)
            bar.update(len(images[i:i + args.batch_size]))
    return 2 if failed else 0

# %% ../nbs/16_cli.ipynb #1f0e2a0c
def _drawer(system:str, run:str):
    "A function (prompts, n, seed) -> pictures (len(prompts)*n, 3, H, W) in [-1, 1], each prompt's n together, of a run folder of `system`."
    if system == 'vq-art':
        from mmgen.vq_art import load_vq_art, check_prompt, prompt_words
        gen = load_vq_art(run)
        def draw(prompts, n, seed): return gen(list(prompts), n=n, seed=seed).cpu()
        def label(p:str) -> str:   # a row's title: the adjectives drawn, and the words dropped (unknown, or the first of two opposites)
            kept = check_prompt(p, gen.vocab).split()
            gone = dict.fromkeys(w for w in prompt_words(p) if w not in kept)
            return ' '.join(kept) + (f" (dropped: {', '.join(gone)})" if gone else '')
        draw.label = label
        return draw
    from mmgen.shared_latent import load_shared_latent, load_prior, images_from_captions
    m, tok = load_shared_latent(run)
    prior = load_prior(Path(run) / 'prior') if (Path(run) / 'prior' / 'prior_config.json').exists() else None
    return lambda prompts, n, seed: images_from_captions(m, tok, [p for p in prompts for _ in range(n)], prior, seed=seed)

def draw_grid(images, # (len(prompts)*n, 3, H, W) in [-1, 1], each prompt's n together
              prompts:list[str], # the prompts, one row each
              n:int, # pictures per prompt: the columns
              title:str|None=None, # figure title
             ):
    "The figure `mmgen draw` writes: a row per prompt, n pictures each, titled by the prompt."
    from mmgen.data import show_batch
    items = [dict(image=x, caption=p) for x, p in zip(images, [p for p in prompts for _ in range(n)])]
    return show_batch(items, n=len(items), ncols=n, title=title, width=min(2.6, 10 / n))

def _draw_path(out:str|None, # the --out the user gave
               run:str, # the run folder
              ) -> Path:
    "Where `mmgen draw` writes: RUN/draw.png by default, draw.png inside a folder, NAME.png for a NAME without a suffix; a format matplotlib cannot write is refused."
    from matplotlib.backend_bases import FigureCanvasBase
    if out is None: return Path(run) / 'draw.png'
    p = Path(out)
    if p.is_dir() or out.endswith(('/', os.sep)): return p / 'draw.png'
    if not p.suffix: return p.with_suffix('.png')
    if p.suffix[1:].lower() not in (ok := FigureCanvasBase.get_supported_filetypes()):
        raise UserError(f"cannot write a {p.suffix!r} image (--out {out}): expected a name ending in one of {', '.join('.' + k for k in sorted(ok))}, e.g. .png")
    return p

def _draw(args) -> int:
    import matplotlib.pyplot as plt, warnings
    out = _draw_path(args.out, args.run)                 # before anything loads: a refused name costs nothing
    system = _run_of(args.run, 'draw', DRAWS)
    try: writable_dir(out.parent)                      # before the model loads: a read-only folder costs nothing
    except UserError: raise UserError(f"cannot write {out}: its folder {out.parent} cannot be made or written in (on Kaggle, /kaggle/input is read-only): "
                                      "give --out a writable path, e.g. --out /kaggle/working/draw.png") from None
    draw = _load(_drawer, system, args.run)
    with warnings.catch_warnings(record=True) as seen:   # the system's warnings (vq-art: unknown words dropped), one line each
        warnings.simplefilter('always')
        try: images, labels = draw(args.prompts, args.n, args.seed), [getattr(draw, 'label', str)(p) for p in args.prompts]   # vq-art: what it drew
        except (ValueError, TypeError) as e: raise UserError(f"{system} cannot draw that: {e}") from e   # the system's own prompt checks
        finally:
            for m in dict.fromkeys(str(w.message) for w in seen): print(f"mmgen: warning: {m}", file=sys.stderr)
    fig = draw_grid(images, labels, args.n, title=f"{system}: {args.run} (seed {args.seed})")
    fig.savefig(out, dpi=100); plt.close(fig)
    print(out)
    return 0

# %% ../nbs/16_cli.ipynb #5e7a0c02
def _pair_image(f:str, # an image file
                size:tuple, # (height, width) the run reads
               ):
    "(3, H, W) in [-1, 1]: pair image file `f` read as `mmgen caption` reads a picture (transparency over the scenes' background), never resized; a UserError if it does not read or has another size."
    from mmgen.user_data import as_images
    from PIL import Image
    try:
        with Image.open(f) as im: x = as_images(im)[0]   # its colours as `load_image` reads them (EXIF orientation, 16-bit grey, alpha), at its own size
    except Exception as e: raise UserError(f"cannot read image {f}: {type(e).__name__}: {e}") from e
    if tuple(x.shape[1:]) != tuple(size):
        raise UserError(f"{f} is {x.shape[2]}x{x.shape[1]} pixels: this paired-retrieval run reads a pair picture of {size[1]}x{size[0]} "
                        f"(width x height: two pictures side by side), not resized")
    return x

def _pair_images(files:list[str], # image files
                 size:tuple, # (height, width) the run reads
                ) -> tuple[list[str], object, int]:
    "The files that read at `size`, their pictures (N, 3, H, W) in [-1, 1] (None if none does) and how many did not, each of those named on stderr in one line."
    import torch
    kept, xs = [], []
    for f in files:
        try: xs.append(_pair_image(f, size)); kept.append(f)
        except UserError as e: print(f"mmgen: {e}", file=sys.stderr)
    return kept, torch.stack(xs) if xs else None, len(files) - len(kept)

def _retrieve(args) -> int:
    if args.text and args.images: raise UserError(f"give pair images to caption, or --text with --gallery, not both (got {len(args.images)} image(s) and {len(args.text)} --text)")
    if args.text and not args.gallery: raise UserError("--text needs --gallery IMAGE..., the pair images to search")
    if args.gallery and not args.text: raise UserError("--gallery is searched by --text CAPTION; to caption images, name them without --gallery")
    if not (args.text or args.images): raise UserError("nothing to retrieve: give pair images, or --text CAPTION with --gallery IMAGE...")
    _run_of(args.run, 'retrieve', RETRIEVES)
    files, failed = _skip_unreadable(args.gallery or args.images)   # the others are searched or captioned; the exit status says some were not
    if not files: return 2                                          # nothing to read: no model loads
    from mmgen.paired_retrieval import load_retrieval, retrieve
    model, _ = _load(load_retrieval, args.run)
    files, x, wrong = _pair_images(files, tuple(model.cfg.img_size))
    if x is None: return 2
    try:
        if args.text:
            found = retrieve(model, captions=args.text, k=args.k, gallery=x)
            found = [[(files[i], s) for i, s in row] for row in found]   # gallery indices -> their paths
        else: found = retrieve(model, images=x, k=args.k)
    except ValueError as e: raise UserError(f"paired-retrieval cannot retrieve that: {e}") from e   # retrieve's own checks (an unknown class ...)
    for q, row in zip(args.text or files, found):
        if args.json:   # one object per query, its answers best first
            q_key, a_key, a_one = ('caption', 'images', 'image') if args.text else ('image', 'captions', 'caption')
            print(json.dumps({q_key: q, a_key: [{a_one: c, 'score': s} for c, s in row]}, ensure_ascii=False))
        else:
            for r, (c, s) in enumerate(row, 1): print(f"{q}: {r}. {c} ({s:.4f})")
    return 2 if failed or wrong else 0

# %% ../nbs/16_cli.ipynb #c5e2b903
if __name__ == '__main__' and '__file__' in globals():  # `python -m mmgen.cli` / `torchrun -m mmgen.cli ...`; not a kernel. Last in the module, so every command is defined
    sys.exit(main())

