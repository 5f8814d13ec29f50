"""Run `mmgen` commands one after another in one process, each one optionally stopped by a signal after a given step.

`python tests/_signal_cli.py MODULE PLAN` imports only the system module MODULE (e.g. `mmgen.vq_art`: one import instead
of every system's), then for each item of the JSON list PLAN, `{"argv": [...], "at": k, "signal": "SIGINT"}`, calls
`mmgen.cli.main(argv)`, sending this process `signal` once k optimiser steps (counted over every `fit` of that command)
have ended, the way a user's Ctrl-C or the kernel's OOM killer would; after each command it prints one JSON line,
`{"rc": status, "stderr": what the command wrote to stderr}`. A SIGKILL ends the process there. An item
`{"go_on": [extra args], ...}` instead of "argv" runs the command the previous one printed after "go on with: mmgen".
"""
import contextlib, io, json, os, shlex, signal, sys
import mmgen.train as T
import mmgen.cli as cli

_plan = dict(at=0, n=0, sig=signal.SIGINT)   # signal after this many steps of the current command; steps so far
_call = T._Run.call

def _call_and_signal(self, event):
    _call(self, event)   # every callback first: a save due at this step is written before the signal
    if event == 'after_step' and _plan['at']:
        _plan['n'] += 1
        if _plan['n'] == _plan['at']: os.kill(os.getpid(), _plan['sig'])

T._Run.call = _call_and_signal

if __name__ == '__main__':
    module, plan = sys.argv[1], json.loads(sys.argv[2])
    cli.SYSTEM_MODULES[:] = [module]
    err = io.StringIO()   # the previous command's stderr: a step without 'argv' goes on with the command it printed
    for item in plan:
        _plan.update(at=item.get('at', 0), n=0, sig=getattr(signal, item.get('signal', 'SIGINT')))
        argv = item['argv'] if 'argv' in item else shlex.split(err.getvalue().split('go on with: mmgen ')[1]) + item['go_on']
        err = io.StringIO()
        with contextlib.redirect_stderr(err): rc = cli.main(argv)
        print(json.dumps(dict(rc=rc, stderr=err.getvalue())), flush=True)
