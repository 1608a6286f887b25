"""The docs are tests: every shell command in README.md and docs/*.md runs here.

A ``bash`` block of a doc is run as a script, its commands in order, in a
user's folder that holds the miniature datasets of :mod:`mmaction_data`
(``data/``, with ``configs/`` and ``tools/`` of this repository), after the
substitutions of :mod:`cpu_substitutions` (GPU counts, the last epoch, the
CPU-size options) and nothing else. A block that cannot run on a CPU machine
says so in the doc, on the line before its fence::

    <!-- not run by the tests: the reason -->

A ``python`` block preceded by ``<!-- file: NAME -->`` is a file the doc
asks the user to save: it is written to the user's folder as it stands.
The user's own data of the README (``data/my_videos``) is made from the
miniature clips. Usage synopses (``tools/train.py CONFIG [...]``) are ``text`` blocks, not
commands. A command written in several blocks runs once.
"""
import re
import subprocess
from pathlib import Path
from typing import List, NamedTuple, Optional

import pytest

from conftest import REPO_ROOT, write_clip_frames, write_mp4
from cpu_substitutions import substitute

DOCS = [REPO_ROOT / 'README.md'] + sorted((REPO_ROOT / 'docs').glob('*.md'))
FILE = re.compile(r'^<!-- file: (\S+) -->$')
FENCE = re.compile(r'^```(\w*)\s*$')
NOT_RUN = re.compile(r'^<!-- not run by the tests: (.+?) -->$')
SHELL = ('bash', 'sh', 'shell')
# Files the documented commands name, made from the miniatures before a block runs.
STAND_INS = {
    'demo.mp4': 'data/kinetics400/videos_val/abseiling/zz9Kx_UxC1E_000020_000030.mp4',
}


class Block(NamedTuple):
    doc: str
    line: int
    commands: List[str]
    not_run: Optional[str]

    @property
    def name(self) -> str:
        return f'{self.doc}:{self.line}'


def commands_of(lines: List[str]) -> List[str]:
    """The commands of a block: continuation lines joined, comments dropped."""
    commands, current = [], ''
    for line in lines:
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith('#')):
            continue
        current += stripped[:-1].rstrip() + ' ' if stripped.endswith('\\') else stripped
        if not stripped.endswith('\\'):
            commands.append(re.sub(r'\s+#\s.*$', '', current).strip())
            current = ''
    return commands


def shell_blocks(path: Path) -> List[Block]:
    """The ``bash``/``sh`` blocks of a Markdown file, with their not-run reason."""
    lines = path.read_text().splitlines()
    blocks, index = [], 0
    while index < len(lines):
        match = FENCE.match(lines[index])
        if not match:
            index += 1
            continue
        end = next(i for i in range(index + 1, len(lines)) if lines[i].strip() == '```')
        if match.group(1) in SHELL:
            marker = NOT_RUN.match(lines[index - 1].strip()) if index else None
            blocks.append(Block(str(path.relative_to(REPO_ROOT)), index + 1,
                                commands_of(lines[index + 1:end]),
                                marker.group(1) if marker else None))
        index = end + 1
    return blocks


def file_blocks(path: Path) -> dict:
    """``{name: text}`` of the blocks marked ``<!-- file: NAME -->``."""
    lines, files = path.read_text().splitlines(), {}
    for index, line in enumerate(lines[:-1]):
        match = FILE.match(line.strip())
        if match and FENCE.match(lines[index + 1]):
            end = next(i for i in range(index + 2, len(lines)) if lines[i].strip() == '```')
            files[match.group(1)] = '\n'.join(lines[index + 2:end]) + '\n'
    return files


def write_own_dataset(root: Path, num_classes: int = 5) -> None:
    """``data/my_videos``: a user's videos and lists in MMAction2's format (README)."""
    folder = root / 'data' / 'my_videos'
    if folder.exists():
        return
    (folder / 'videos').mkdir(parents=True)
    lines = []
    for index in range(3):
        label = (2 * index + 1) % num_classes
        write_mp4(folder / 'videos' / f'clip_{index}.mp4', write_clip_frames(index, 12))
        lines.append(f'clip_{index}.mp4 {label}')
    (folder / 'train_list.txt').write_text('\n'.join(lines[:2]) + '\n')
    (folder / 'val_list.txt').write_text(lines[2] + '\n')


BLOCKS = [block for doc in DOCS for block in shell_blocks(doc)]
RUN_BLOCKS = [block for block in BLOCKS if block.not_run is None]


def test_docs_have_shell_blocks_and_reasons():
    assert len(RUN_BLOCKS) >= 3
    for block in BLOCKS:
        assert block.commands, f'{block.name}: an empty shell block'
        if block.not_run is not None:
            assert len(block.not_run.split()) >= 4, f'{block.name}: say why it cannot run'


def test_block_parsing():
    assert commands_of(['# c', 'a \\', '  b  # note', '', 'c']) == ['a b', 'c']


# The blocks run in order on one pytest-xdist worker: later ones use what earlier
# ones wrote (checkpoints, data/my_videos) and `_ran`.
pytestmark = pytest.mark.xdist_group('docs')
_ran = set()
ASSIGNMENT = re.compile(r'^[A-Za-z_]\w*=(\$\(.*\)|"[^"]*"|\S+)$')


@pytest.mark.parametrize('block', RUN_BLOCKS, ids=lambda block: block.name)
def test_documented_commands_run(block, user_root, user_env):
    write_own_dataset(user_root)
    for doc in DOCS:
        for name, text in file_blocks(doc).items():
            (user_root / name).write_text(text)
    for name, source in STAND_INS.items():
        if not (user_root / name).exists():
            (user_root / name).symlink_to(user_root / source)
    env = dict(user_env, PYTHONWARNINGS='default')
    # One script per block (its commands share variables); a command that an
    # earlier block ran is left out, a variable assignment never.
    commands = [command for command in block.commands
                if ASSIGNMENT.match(command) or command not in _ran]
    script = '\n'.join(substitute(command, user_root) for command in commands)
    proc = subprocess.run(['bash', '-euo', 'pipefail', '-c', script], cwd=str(user_root),
                          env=env, text=True, timeout=1800, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT)
    assert proc.returncode == 0, (f'{block.name} ran as:\n{script}\n'
                                  f'exited with {proc.returncode}:\n{proc.stdout[-5000:]}')
    if 'mim ' not in script:  # mim itself imports pkg_resources before any plugin loads
        for warning in ('MultiScaleDeformableAttention', 'pkg_resources'):
            assert warning not in proc.stdout, f'{block.name} printed a {warning} warning'
    _ran.update(commands)
