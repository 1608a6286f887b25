"""What a user meets first, in one line: data elsewhere, no internet, a wrong option.

The commands run as subprocesses exactly as a user types them, in a folder
that holds the miniature datasets (``user_root``) or in one that does not.
"""
import subprocess
import sys
from pathlib import Path

from conftest import REPO_ROOT

TRAIN = [sys.executable, str(REPO_ROOT / 'tools' / 'train.py')]
CPU = ['--cfg-options', 'train_dataloader.num_workers=0', 'val_dataloader.num_workers=0']


def run(cmd, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([str(part) for part in cmd], cwd=str(cwd), env=env, text=True,
                          capture_output=True, timeout=600)


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode != 0
    assert 'Traceback' not in proc.stderr, proc.stderr[-3000:]
    return proc.stderr.strip().splitlines()[-1]


def test_ms_data_root_points_every_config_path_elsewhere(user_root, user_env, tmp_path):
    # Launched from a folder without data/: the datasets are found through MS_DATA_ROOT.
    env = dict(user_env, MS_DATA_ROOT=str(user_root / 'data'))
    for config in ('msnet_r50_sthv1', 'msnet_r50_sthv2', 'msnet_r50_k400', 'msnet_r50_hmdb51',
                   'msnet_mobilenetv2_sthv2', 'msnet_slowonly_r50_k400'):
        proc = run([sys.executable, REPO_ROOT / 'tools' / 'data' / 'check_dataset.py',
                    REPO_ROOT / 'configs' / f'{config}.py'], tmp_path, env)
        assert proc.returncode == 0, f'{config}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}'
        assert proc.stdout.count(', OK') == 3, proc.stdout
    # Without it, the one-line error says where the lists were looked for and what to do.
    line = one_line_error(run(TRAIN + [REPO_ROOT / 'configs' / 'msnet_r50_sthv1.py'] + CPU,
                              tmp_path, user_env))
    assert 'annotation file data/sthv1/sthv1_train_list_rawframes.txt' in line
    assert 'MS_DATA_ROOT' in line


def test_data_root_in_cfg_options_is_refused(user_root, user_env):
    line = one_line_error(run(TRAIN + ['configs/msnet_r50_sthv1.py', '--cfg-options',
                                       'data_root=/datasets'], user_root, user_env))
    assert 'data_root' in line and 'MS_DATA_ROOT=/datasets' in line


def test_offline_weights_download_fails_in_one_line_naming_the_cache_file(
        user_root, user_env, tmp_path):
    env = dict(user_env, TORCH_HOME=str(tmp_path / 'empty_torch_home'))
    proc = run(TRAIN + ['configs/msnet_r50_sthv1.py', '--work-dir', tmp_path / 'work'] + CPU,
               user_root, env)
    line = one_line_error(proc)
    assert 'cannot download the pretrained weights torchvision://resnet50' in line
    assert str(tmp_path / 'empty_torch_home' / 'hub' / 'checkpoints' /
               'resnet50-0676ba61.pth') in line
    assert 'model.backbone.pretrained' in line


def test_label_beyond_num_classes_stops_training_in_one_line(user_root, user_env, tmp_path):
    lists = tmp_path / 'lists'
    lists.mkdir()
    source = user_root / 'data' / 'sthv2' / 'sthv2_train_list_videos.txt'
    first = source.read_text().splitlines()[0].split()[0]
    (lists / 'train.txt').write_text(f'{first} 1\n{first} 4\n')
    proc = run(TRAIN + ['configs/msnet_r50_sthv2.py', '--work-dir', tmp_path / 'work',
                        '--no-validate', '--cfg-options', 'model.cls_head.num_classes=4',
                        f'train_dataloader.dataset.ann_file={lists / "train.txt"}',
                        'train_dataloader.dataset.pipeline.6.flip_label_map=None',
                        'train_dataloader.num_workers=0'], user_root, user_env)
    line = one_line_error(proc)
    assert 'label 4' in line and 'line 2' in line and str(lists / 'train.txt') in line
    assert 'num_classes=4' in line
