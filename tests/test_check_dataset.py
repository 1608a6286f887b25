"""tools/data/check_dataset.py and ms_plugin.datasets.check_files on a good and a broken dataset.

The broken copy of the tiny dataset holds each kind of damage once: a missing
video, an empty one, one cut in half (decord cannot open it), one whose last
frame is cut short and one with zeros in the middle (both open; only decoding
finds them), a frame folder with fewer frames than its list line says, a
corrupt JPEG, a label beyond num_classes and a flip map beyond it.
"""
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT, TEST_CONFIGS, load_tool, subprocess_env, write_tiny_dataset
from mmengine.config import Config

from ms_plugin.datasets.check_files import check_datasets, video_problems

TOOL = 'tools/data/check_dataset.py'
VIDEO_CFG = TEST_CONFIGS / 'tiny_msnet_video.py'
RAWFRAMES_CFG = TEST_CONFIGS / 'tiny_msnet_rawframes.py'


def _boxes(data: bytes) -> dict:
    """The top-level boxes of an mp4 file, by type."""
    boxes, offset = {}, 0
    while offset < len(data):
        size, kind = struct.unpack('>I4s', data[offset:offset + 8])
        boxes[kind] = data[offset:offset + size]
        offset += size
    return boxes


def moov_first(data: bytes) -> bytes:
    """The same mp4 with its index (moov) before the frames (mdat), as a streamed file is.

    OpenCV writes the index last, so cutting its files short loses the index. With the
    index first, a cut loses frame data only and the file still opens.
    """
    boxes = _boxes(data)
    moov = bytearray(boxes[b'moov'])
    at = moov.find(b'stco')  # chunk offsets move by the size of the index
    for entry in range(struct.unpack('>I', moov[at + 8:at + 12])[0]):
        pos = at + 12 + 4 * entry
        moov[pos:pos + 4] = struct.pack('>I', struct.unpack('>I', moov[pos:pos + 4])[0]
                                        + len(moov))
    head = b''.join(box for kind, box in boxes.items() if kind not in (b'moov', b'mdat'))
    return head + bytes(moov) + boxes[b'mdat']


def _lines(path: Path) -> list:
    return path.read_text().splitlines()


@pytest.fixture(scope='module')
def good_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp('good')
    write_tiny_dataset(root)
    return root


@pytest.fixture(scope='module')
def broken_root(tmp_path_factory) -> Path:
    """The tiny dataset with every kind of damage, each on a known line of train_*.txt."""
    root = tmp_path_factory.mktemp('broken')
    write_tiny_dataset(root)
    videos = root / 'videos'
    good = (videos / 'clip_0.mp4').read_bytes()
    (videos / 'empty.mp4').write_bytes(b'')
    (videos / 'halved.mp4').write_bytes(good[:len(good) // 2])
    streamed = moov_first(good)
    (videos / 'cut.mp4').write_bytes(streamed[:-100])  # inside the last frame
    mdat = len(streamed) - len(_boxes(good)[b'mdat'])
    damaged = bytearray(good)
    damaged[mdat + 1100:mdat + 1400] = bytes(300)  # zeros over the frames in the middle
    (videos / 'damaged.mp4').write_bytes(bytes(damaged))
    lines = _lines(root / 'train_videos.txt')  # 6 good clips, labels 0 0 1 1 2 2
    lines[1] = 'clip_1.mp4 5'  # line 2: a label beyond num_classes=3
    lines += ['missing.mp4 0', 'empty.mp4 1', 'halved.mp4 2', 'cut.mp4 0',
              'damaged.mp4 1']  # lines 7 to 11
    (root / 'train_videos.txt').write_text('\n'.join(lines) + '\n')
    for frame in ('00007.jpg', '00008.jpg'):  # clip_2: 6 frames, its line says 8
        (root / 'rawframes' / 'clip_2' / frame).unlink()
    (root / 'rawframes' / 'clip_4' / '00003.jpg').write_bytes(b'\xff\xd8 not a JPEG')
    return root


def _run(config: Path, data_root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, TOOL, str(config), *args], cwd=REPO_ROOT,
                          env=subprocess_env(data_root), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=300)


def _main(config: Path, data_root: Path, monkeypatch, capfd, *args: str) -> tuple:
    """The tool's ``main`` in this process: (exit status, stdout, stderr)."""
    monkeypatch.setenv('MS_TINY_DATA', str(data_root))
    monkeypatch.setattr(sys, 'argv', [TOOL])
    try:
        status = load_tool('data/check_dataset').main([str(config), *args])
    except SystemExit as err:
        status = err.code
    out, err = capfd.readouterr()
    return status, out, err


def _problems(config: Path, data_root: Path, monkeypatch, **kwargs) -> list:
    monkeypatch.setenv('MS_TINY_DATA', str(data_root))
    cfg = Config.fromfile(str(config))
    for key, value in kwargs.pop('options', {}).items():
        cfg.merge_from_dict({key: value})
    return [(r.split, str(p)) for r in check_datasets(cfg, **kwargs) for p in r.problems]


def test_the_good_dataset_passes_as_documented(good_root):
    proc = _run(VIDEO_CFG, good_root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[-3:] == [
        'train: 6 samples, 3 classes used, OK', 'val: 3 samples, 3 classes used, OK',
        'test: 3 samples, 3 classes used, OK']
    assert '100%' in proc.stderr  # the progress bar
    assert 'Traceback' not in proc.stderr


def test_the_broken_dataset_lists_each_problem_with_file_and_line(broken_root, monkeypatch,
                                                                  capfd):
    status, stdout, stderr = _main(VIDEO_CFG, broken_root, monkeypatch, capfd, '--split',
                                   'train', '--decode')
    assert status == 1, stdout + stderr
    ann, videos = broken_root / 'train_videos.txt', broken_root / 'videos'
    out = stdout.splitlines()
    assert out[-7] == f'6 problem(s) in the datasets of {VIDEO_CFG}:'
    expected = {
        2: (videos / 'clip_1.mp4', 'label 5: not within num_classes 3'),
        7: (videos / 'missing.mp4', 'no such file'),
        8: (videos / 'empty.mp4', 'the file is empty'),
        9: (videos / 'halved.mp4', 'cannot be opened: '),
        10: (videos / 'cut.mp4', 'decoder errors: [mpeg4 @ 0x'),
        11: (videos / 'damaged.mp4', 'decod'),  # 'decodes 1 of the 8 frames ...; decoder errors'
    }
    for line, (path, words) in expected.items():
        assert any(o.startswith(f'  train: {ann}:{line}: {path}: {words}') for o in out), (
            line, out)
    assert 'Traceback' not in stderr and '[mpeg4 @' not in stderr


def test_damage_inside_an_openable_video_needs_decode(broken_root):
    videos = broken_root / 'videos'
    for name in ('cut.mp4', 'damaged.mp4'):
        assert video_problems(str(videos / name)) == []  # opens, declares 8 frames
    assert video_problems(str(videos / 'cut.mp4'), decode=True)[0].startswith(
        'decoder errors: [mpeg4 @ 0x')
    damaged = video_problems(str(videos / 'damaged.mp4'), decode=True)
    assert damaged and any('of the 8 frames the container declares' in p
                           or p.startswith('decoder errors') for p in damaged), damaged
    assert video_problems(str(videos / 'clip_0.mp4'), decode=True) == []


def test_frame_folders_are_counted_and_decoded(broken_root, monkeypatch):
    ann, frames = broken_root / 'train_rawframes.txt', broken_root / 'rawframes'
    problems = _problems(RAWFRAMES_CFG, broken_root, monkeypatch, splits=['train'])
    assert problems == [('train', f'{ann}:3: {frames / "clip_2"}: the list says 8 frames, '
                                  'the folder has 6 (00007.jpg is missing)')]
    problems = _problems(RAWFRAMES_CFG, broken_root, monkeypatch, splits=['train'],
                         decode=True)
    assert problems[1] == ('train', f'{ann}:5: {frames / "clip_4"}: frame 00003.jpg: '
                                    'not a decodable image')


def test_a_flip_map_beyond_num_classes_names_the_step(good_root, monkeypatch):
    key = 'train_dataloader.dataset.pipeline.5.flip_label_map'
    problems = _problems(VIDEO_CFG, good_root, monkeypatch, splits=['train'],
                         options={key: {0: 1, 1: 0, 2: 4, 4: 2}})
    assert problems == [('train', f'{key}: maps label 2 to 4, not within num_classes 3')]
    # entries whose key is not a label never apply: a larger label set's map passes
    assert _problems(VIDEO_CFG, good_root, monkeypatch, splits=['train'],
                     options={key: {1: 2, 2: 1, 7: 8, 8: 7}}) == []


def test_a_missing_annotation_file_is_a_problem(good_root, tmp_path, monkeypatch):
    missing = tmp_path / 'nothing.txt'
    problems = _problems(VIDEO_CFG, good_root, monkeypatch, splits=['val'],
                         options={'val_dataloader.dataset.ann_file': str(missing)})
    assert problems == [('val', f'{missing}: the annotation file does not exist')]


def test_a_missing_config_is_one_line(good_root, monkeypatch, capfd):
    status, _, stderr = _main(Path('configs/no_such_config.py'), good_root, monkeypatch, capfd)
    assert status == 2
    assert stderr == ('check_dataset.py: error: config configs/no_such_config.py does not '
                      'exist.\n')
