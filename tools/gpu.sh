#!/usr/bin/env bash
# Run one notebook's `#| cuda` cells on the lent GPU machine and bring the executed notebook home.
#
# Here, once (wheels for what the device image lacks: nbdev, execnb, IPython, open_clip, ipywidgets; ~12 MB, ignored):
#   bash tools/gpu.sh --wheels
# Then, through the device tool, the plan's calls back to back (tools/gpu_plan.txt; the machine goes back after 30 s idle):
#   run(command="bash tools/gpu.sh --plan 1", carry=[".whl"], timeout_s=590), then at once --plan 2, ...
# (rehearse a call here first, on the CPU: MMGEN_GPU_REHEARSE=1 bash tools/gpu.sh --plan 1), or one notebook whole:
#   run(command="bash tools/gpu.sh nbs/10_shared_latent.ipynb", carry=[".whl"], timeout_s=590)
# or, to spend the lease on the GPU cells alone (the notebook's CPU-sized cells cost minutes), name them and the
# cells they need: run(command="bash tools/gpu.sh nbs/10_shared_latent.ipynb 34226344,6d99af53 6d99af53", ...)
# (cells to run, then the cells whose outputs are written back; tools/run_cells.py, with --each: what finished is kept)
# The cells get CELLS_S seconds (default 540), then an interrupt: keep timeout_s above it so the copy home still runs.
# and back here: cp <files_at>/10_shared_latent.ipynb nbs/ && nbdev-clean && git diff --stat
# (<files_at>/results/*.json: the records the cells wrote there; merge their new keys into nbs/results/, do not overwrite)
# The machine's image has torch, torchvision, safetensors, tokenizers, sacrebleu, scikit-learn, matplotlib, tqdm
# (/work/.library/device/KINDS.md); mmgen itself runs from the checkout through PYTHONPATH.
set -euo pipefail
if [[ "${1:-}" == "--wheels" ]]; then
  mkdir -p .whl
  for p in ipython ipython-pygments-lexers jedi parso matplotlib-inline pexpect ptyprocess prompt_toolkit wcwidth \
           stack_data asttokens executing pure_eval traitlets decorator execnb fastcore nbdev astunparse fastgit ghapi \
           watchdog open_clip_torch ftfy ipywidgets comm widgetsnbextension jupyterlab_widgets; do
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
      --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl "$p"
  done
  du -sh .whl; exit 0
fi
if [[ "${1:-}" == "--plan" ]]; then   # one device call: call N's lines of tools/gpu_plan.txt in order, sharing CELLS_S seconds
  n="${2:?usage: tools/gpu.sh --plan N}"; budget="${CELLS_S:-540}"; t0=$(date +%s); status=0; ran=0
  while read -r call nb cells back cap; do
    [[ "$call" == "$n" ]] || continue
    ran=$((ran + 1)); left=$(( budget - ($(date +%s) - t0) ))
    if (( left < 30 )); then echo "plan $n: $left s left, $nb not run"; status=1; continue; fi
    [[ -n "$cap" ]] && (( cap < left )) && left=$cap   # a line's own limit leaves the lines after it their time
    echo "== plan $n: $nb ($left s)"
    CELLS_S=$left bash "$0" "$nb" "$cells" "$back" </dev/null || status=$?   # a failed line does not stop the next
  done < <(grep -Ev '^[[:space:]]*(#|$)' "$(dirname "$0")/gpu_plan.txt")
  (( ran )) || { echo "tools/gpu_plan.txt has no line for call $n"; exit 2; }
  echo "plan $n: rc $status after $(( $(date +%s) - t0 )) s"; exit $status
fi
nb="${1:?usage: tools/gpu.sh nbs/NN_name.ipynb [CELL_IDS [BACK_IDS]] | --plan N | --wheels}"
if [[ -n "${MMGEN_GPU_REHEARSE:-}" ]]; then   # here, before a lease: the ids exist and the setup cells run; cuda cells print "needs a GPU: skipped"; nothing is written
  export PYTHONPATH=$PWD MPLBACKEND=agg; dry=--no-write
  [[ -n "${2:-}" ]] || { echo "a rehearsal names its cells (or use --plan N)"; exit 2; }
else
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site:$PWD PATH=/tmp/site/bin:$PATH MPLBACKEND=module://matplotlib_inline.backend_inline; dry=
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
fi
start=$(date +%s)
status=0
if [[ -n "${2:-}" ]]; then   # from the notebook's folder, as nbdev-test runs it (its runs/ lands there)
  # --each: a finished cell's outputs are in the notebook at once; the timeout (SIGINT, then KILL) leaves time to bring them home
  (cd "$(dirname "$nb")" && timeout -s INT -k 15 "${CELLS_S:-540}" python3 "$OLDPWD/tools/run_cells.py" "$(basename "$nb")" "$2" ${3:+--back "$3"} --each $dry) || status=$?
  echo "tools/run_cells.py $2: rc $status after $(( $(date +%s) - start )) s"
else
  nbdev-test --flags cuda --save --cell-timeout 0 "$nb" || status=$?
  echo "nbdev-test --flags cuda: rc $status after $(( $(date +%s) - start )) s"
fi
[[ -z "$dry" ]] || exit $status
cp "$nb" "${OUT:-/tmp}/"
# nbdev-test runs a notebook from its own folder, so a cell's runs/ lands beside the notebook
(cd "$(dirname "$nb")" && cp --parents runs/*/metrics.json runs/*/samples.png runs/*/*/metrics.json runs/*/*/samples.png "${OUT:-/tmp}/" 2>/dev/null) || true   # a run's folder may sit one level down (runs/captioner_full/dense)
# and the results records the cells write (nbs/results/*.json: the claims ledgers read them); merge by key, back here
(cd "$(dirname "$nb")" && cp --parents results/*.json "${OUT:-/tmp}/" 2>/dev/null) || true
exit $status
