"""MMAction2's own tools on the plugin's configs, as docs/mmaction2_tools.md gives them.

Every row of the doc's table whose status says "tested" runs here exactly as
written (after the doc's two setup lines, with only the substitutions of
:mod:`cpu_substitutions`), in a user's folder that holds the miniature
datasets of :mod:`mmaction_data` and a checkpoint of ``msnet_r50_sthv2.py``
saved as MMEngine's Runner saves one (with its message hub's
HistoryBuffers, which torch >= 2.6 refuses to load by default).
"""
import importlib.util
import re
import subprocess
from pathlib import Path
from typing import Dict, List

import mmaction
import pytest
import torch

from conftest import REPO_ROOT
from cpu_substitutions import substitute

DOC = REPO_ROOT / 'docs' / 'mmaction2_tools.md'
MIM_TOOLS = Path(mmaction.__file__).resolve().parent / '.mim' / 'tools'
CONFIG = 'configs/msnet_r50_sthv2.py'
CHECKPOINT = 'work_dirs/msnet_r50_sthv2/epoch_1.pth'  # the doc's epoch_40.pth, substituted
VIS_NEEDS = {'visualizations/browse_dataset.py': 'moviepy'}


def _doc_text() -> str:
    return DOC.read_text()


def table() -> Dict[str, Dict[str, str]]:
    """``{tool: {'command', 'status'}}`` of the doc's table (no cell holds a ``|``)."""
    rows = {}
    for line in _doc_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip('|').split('|')]
        if not line.startswith('| ') or len(cells) != 3 or cells[0] in ('tool', '---'):
            continue
        tool = cells[0].replace('`', '').replace(' of the mmaction2 repository', '')
        rows[tool] = dict(command=cells[1].strip('`'), status=cells[2])
    return rows


def setup_lines() -> List[str]:
    """The two lines the doc runs before every command."""
    text = _doc_text()
    block = text[text.index('```bash\n') + len('```bash\n'):]
    return block[:block.index('```')].strip().splitlines()


TABLE = table()
TESTED = sorted(tool for tool, row in TABLE.items() if 'tested' in row['status'])


def run_documented(command: str, root: Path, env: dict, timeout: float = 600) -> str:
    script = '\n'.join(setup_lines() + [substitute(command, root)])
    proc = subprocess.run(['bash', '-euo', 'pipefail', '-c', script], cwd=str(root), env=env,
                          text=True, timeout=timeout, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT)
    assert proc.returncode == 0, f'{script}\nexited with {proc.returncode}:\n{proc.stdout[-4000:]}'
    return proc.stdout


@pytest.fixture(scope='module')
def tools_root(user_root, tmp_path_factory) -> Path:
    """A user's folder: the miniatures' ``data/``, ``configs/``, ``tools/``, ``demo.mp4``
    and a Runner-style checkpoint of ``msnet_r50_sthv2.py`` (random weights)."""
    import ms_plugin  # noqa: F401  (mmaction.models needs its fixes)
    from mmaction.registry import MODELS
    from mmengine.config import Config
    from mmengine.logging import MessageHub
    from mmengine.registry import init_default_scope

    root = tmp_path_factory.mktemp('mmaction_tools')
    for name in ('data', 'configs', 'tools'):
        (root / name).symlink_to(user_root / name, target_is_directory=True)
    video = (root / 'data/sthv2/sthv2_val_list_videos.txt').read_text().split()[0]
    (root / 'demo.mp4').symlink_to(root / 'data/sthv2/videos' / video)
    init_default_scope('mmaction')
    cfg = Config.fromfile(str(REPO_ROOT / CONFIG))
    cfg.model.backbone.pretrained = None
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    hub = MessageHub.get_instance('mmaction_tools_test')
    hub.update_scalar('train/loss', 5.1)
    checkpoint = root / CHECKPOINT
    checkpoint.parent.mkdir(parents=True)
    torch.save(dict(meta=dict(epoch=1, iter=3, seed=0), state_dict=model.state_dict(),
                    message_hub=hub.state_dict()), checkpoint)
    return root


def make_results_pkl(root: Path, env: dict) -> None:
    """``results.pkl`` as the doc makes it (``tools/test.py ... --dump results.pkl``), once."""
    if not (root / 'results.pkl').exists():
        command = re.search(r'`(python tools/test\.py [^`]+--dump results\.pkl)`', _doc_text())
        run_documented(command.group(1), root, env)


def _new_files(root: Path, pattern: str) -> List[Path]:
    return sorted(root.glob(pattern))


def check(tool: str, out: str, root: Path) -> None:
    """What each tool must have done."""
    if tool.endswith('print_config.py'):
        for shown in ('depth=50', 'num_segments=8', 'shift_div=8', 'max_displacement=7',
                      'in_channels=2048', 'dropout_ratio=0.5', 'std=['):
            assert shown in out
    elif tool.endswith('get_flops.py'):
        assert re.search(r'Flops: [0-9.]+G', out) and 'Input shape: (8, 3, 224, 224)' in out
    elif tool.endswith('check_videos.py'):
        assert 'none are corrupted/missing' in out
    elif tool.endswith('eval_metric.py'):
        assert "'acc/top1'" in out
    elif tool.endswith('report_accuracy.py'):
        assert 'Top 1 Accuracy' in out
    elif tool.endswith('confusion_matrix.py'):
        from mmengine import load
        assert load(str(root / 'confusion_matrix.pkl')).shape == (174, 174)
    elif tool.endswith('publish_model.py'):
        (published, ) = _new_files(root, 'msnet_r50_sthv2_*-*.pth')
        state = torch.load(str(published), map_location='cpu', weights_only=True)
        assert 'backbone.ms_layer2.reduce.conv.weight' in state['state_dict']
    elif tool.endswith('vis_scheduler.py'):
        assert (root / 'lr.png').stat().st_size > 0
    elif tool.endswith('browse_dataset.py'):
        assert _new_files(root / 'browse', '*.mp4')
    elif tool.endswith('clip_feature_extraction.py'):
        from mmengine import load
        videos = [line.split()[0] for line in
                  (root / 'data/sthv2/sthv2_val_list_videos.txt').read_text().splitlines()]
        for video in videos:
            assert load(str(root / 'features' / f'{video}.pkl')).shape == (2048, )
    elif tool == 'init_recognizer + inference_recognizer':
        assert re.search(r'tensor\(\d+\)', out)
    elif tool == 'MMAction2Inferencer':
        assert 'rec_labels' in out and 'rec_scores' in out
    else:
        pytest.fail(f'{tool}: the doc says "tested"; say here what it must have done')


def test_table_covers_every_tool_a_user_points_at_a_config():
    shipped = {str(path.relative_to(MIM_TOOLS)) for folder in
               ('analysis_tools', 'visualizations', 'misc') for path in
               (MIM_TOOLS / folder).iterdir() if path.suffix in ('.py', '.sh')}
    assert shipped <= set(TABLE), shipped - set(TABLE)
    for tool in ('demo/demo.py', 'MMAction2Inferencer', 'deployment/publish_model.py'):
        assert tool in TABLE
    assert len(TESTED) >= 12
    for tool, row in TABLE.items():
        assert re.match(r'(works|broken in mmaction2 1\.2 for every config|does not apply|'
                        r'runs the row above|not in the pip package)', row['status']), tool


@pytest.mark.parametrize('tool', TESTED)
def test_documented_tool_runs(tool, tools_root, user_env):
    needs = VIS_NEEDS.get(tool)
    if needs and importlib.util.find_spec(needs) is None:
        pytest.skip(f'needs the [vis] extra ({needs}): pip install -e .[vis]')
    if 'results.pkl' in TABLE[tool]['command']:
        make_results_pkl(tools_root, user_env)
    out = run_documented(TABLE[tool]['command'], tools_root, user_env)
    check(tool, out, tools_root)
