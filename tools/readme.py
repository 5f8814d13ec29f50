"""Render README.md from nbs/index.ipynb (nbdev-readme needs Quarto, which these machines cannot install).

Usage: python tools/readme.py          # write README.md
       python tools/readme.py --check  # exit 1 if README.md is stale
"""
import sys
from pathlib import Path
import nbformat
from nbconvert import MarkdownExporter

ROOT = Path(__file__).resolve().parents[1]
HEADER = "<!-- Generated from nbs/index.ipynb by tools/readme.py: edit the notebook, not this file. -->\n\n"

def render() -> str:
    "README text for the current nbs/index.ipynb."
    nb = nbformat.read(ROOT/'nbs'/'index.ipynb', as_version=4)
    body, _ = MarkdownExporter().from_notebook_node(nb)
    return HEADER + body.strip() + "\n"

if __name__ == '__main__':
    txt, readme = render(), ROOT/'README.md'
    if '--check' in sys.argv:
        ok = readme.exists() and readme.read_text() == txt
        print('README.md agrees with nbs/index.ipynb' if ok else 'README.md is stale: run `python tools/readme.py`')
        sys.exit(0 if ok else 1)
    readme.write_text(txt); print(f'wrote {readme}')
