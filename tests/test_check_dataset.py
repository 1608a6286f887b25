"""tools/data/check_dataset.py, the dataset checker and the probes, on good and broken data.

The broken copy of the tiny dataset holds each kind of damage once: a missing
video, an empty one, one cut in half (decord cannot open it), one whose last
frame is cut short and one with zeros in the middle (both open; only decoding
finds them), a frame folder with fewer frames than its list line says, one with
a gap, a corrupt JPEG, a label beyond num_classes (in the list that val and
test share, too) and a flip map beyond it.
"""
import json
import signal
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import REPO_ROOT, TEST_CONFIGS, load_tool, subprocess_env, write_tiny_dataset
from mmengine.config import Config

from ms_plugin.cli import run_tool
from ms_plugin.datasets.check_files import check_datasets
from ms_plugin.datasets.probe import frame_folder_problems, video_problems
from ms_plugin.datasets.walk import annotation_files

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
    """The tiny dataset with every kind of damage, each on a known line of its list."""
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
    # val_videos.txt (val and test): clip_0 clip_2 clip_4; line 4 missing, in train too
    (root / 'val_videos.txt').write_text(_lines(root / 'val_videos.txt')[0] + '\n'
                                         + 'clip_2.mp4 7\nclip_4.mp4 2\nmissing.mp4 0\n')
    for frame in ('00007.jpg', '00008.jpg'):  # clip_2: 6 frames, its line says 8
        (root / 'rawframes' / 'clip_2' / frame).unlink()
    (root / 'rawframes' / 'clip_3' / '00004.jpg').unlink()  # a gap: 7 of 8
    (root / 'rawframes' / 'clip_4' / '00003.jpg').write_bytes(b'\xff\xd8 not a JPEG')
    return root


def _run(config: Path, data_root: Path, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, TOOL, str(config), *args], cwd=REPO_ROOT,
                          env=subprocess_env(data_root), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=300, **kwargs)


def _main(config: Path, data_root: Path, monkeypatch, capfd, *args: str) -> tuple:
    """The tool's ``main`` in this process, through ``run_tool``: (status, stdout, stderr)."""
    monkeypatch.setenv('MS_TINY_DATA', str(data_root))
    monkeypatch.setattr(sys, 'argv', [TOOL])
    status = run_tool(load_tool('data/check_dataset').main, [str(config), *args])
    out, err = capfd.readouterr()
    return status, out, err


def _problems(config: Path, data_root: Path, monkeypatch, **kwargs) -> list:
    monkeypatch.setenv('MS_TINY_DATA', str(data_root))
    cfg = Config.fromfile(str(config))
    for key, value in kwargs.pop('options', {}).items():
        cfg.merge_from_dict({key: value})
    return [(p.kind, str(p)) for p in check_datasets(cfg, nproc=1, **kwargs).problems]


def test_the_good_dataset_passes_as_documented(good_root):
    proc = _run(VIDEO_CFG, good_root, '--nproc', '2')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[-3:] == [
        'train: 6 samples, 3 classes used, OK', 'val: 3 samples, 3 classes used, OK',
        'test: 3 samples, 3 classes used, OK']
    assert '100%' in proc.stderr and '6/6 [' in proc.stderr  # the bar: 6 distinct files
    assert 'Traceback' not in proc.stderr


def test_each_problem_is_listed_once_with_all_its_places(broken_root, monkeypatch, capfd,
                                                         tmp_path):
    out_dir = tmp_path / 'checked'
    status, stdout, stderr = _main(VIDEO_CFG, broken_root, monkeypatch, capfd, '--decode',
                                   '--nproc', '2', '--out-dir', str(out_dir))
    assert status == 1, stdout + stderr
    train, val, videos = broken_root / 'train_videos.txt', broken_root / 'val_videos.txt', \
        broken_root / 'videos'
    out = stdout.splitlines()
    assert out[0] == f'7 problem(s) in the datasets of {VIDEO_CFG} (11 files and folders):'
    assert out[1:8] == [
        f'  [label] {videos / "clip_1.mp4"}: label 5: not within num_classes 3 (train: {train}:2)',
        f'  [missing] {videos / "missing.mp4"}: no such file (train: {train}:7; '
        f'val+test: {val}:4)',
        f'  [empty] {videos / "empty.mp4"}: the file is empty (train: {train}:8)',
        out[4], out[5], out[6],
        f'  [label] {videos / "clip_2.mp4"}: label 7: not within num_classes 3 '
        f'(val+test: {val}:2)']
    assert out[4].startswith(f'  [unreadable] {videos / "halved.mp4"}: cannot be opened: ')
    assert out[5].startswith(f'  [damaged] {videos / "cut.mp4"}: decoder errors: [mpeg4 @ 0x')
    assert out[6].startswith(f'  [damaged] {videos / "damaged.mp4"}: decod')
    assert out[6].endswith(f'(train: {train}:11)')
    assert out[8] == 'summary: 1 missing, 1 empty, 1 unreadable, 2 damaged, 2 label'
    assert out[9:] == [f'wrote {out_dir / name}' for name in
                       ('problems.jsonl', 'train_videos.txt', 'val_videos.txt')]
    assert 'Traceback' not in stderr and '[mpeg4 @' not in stderr
    # the machine-readable file, and the lists without their bad lines
    records = [json.loads(line) for line in (out_dir / 'problems.jsonl').read_text().splitlines()]
    assert len(records) == 7 and records[1]['kind'] == 'missing'
    assert records[1]['places'] == [dict(split='train', ann_file=str(train), line=7),
                                    dict(split='val', ann_file=str(val), line=4),
                                    dict(split='test', ann_file=str(val), line=4)]
    assert _lines(out_dir / 'train_videos.txt') == [
        'clip_0.mp4 0', 'clip_2.mp4 1', 'clip_3.mp4 1', 'clip_4.mp4 2', 'clip_5.mp4 2']
    assert _lines(out_dir / 'val_videos.txt') == ['clip_0.mp4 0', 'clip_4.mp4 2']
    assert len(_lines(train)) == 11  # the user's list is untouched


def test_the_summary_counts_each_kind(broken_root, monkeypatch, capfd):
    status, stdout, _ = _main(VIDEO_CFG, broken_root, monkeypatch, capfd, '--split', 'train',
                              '--nproc', '1')
    assert status == 1
    assert stdout.splitlines()[-1] == 'summary: 1 missing, 1 empty, 1 unreadable, 1 label'


def test_an_out_dir_that_would_overwrite_a_list_is_refused(broken_root, monkeypatch, capfd):
    status, stdout, stderr = _main(VIDEO_CFG, broken_root, monkeypatch, capfd, '--out-dir',
                                   str(broken_root))
    assert status == 2 and stdout == ''
    ann = broken_root / 'train_videos.txt'
    assert stderr == (f'check_dataset.py: error: --out-dir {broken_root} holds the list {ann}, '
                      f'which the cleaned copy of {ann} would overwrite: give another folder\n')


def test_ctrl_c_stops_writes_what_was_found_and_exits_130(good_root, tmp_path):
    """2,000 links to one clip, decoded by one process: seconds, stopped after one."""
    links = tmp_path / 'links'
    links.mkdir()
    for i in range(2000):
        (links / f'v{i}.mp4').symlink_to(good_root / 'videos' / 'clip_0.mp4')
    ann = tmp_path / 'many.txt'
    ann.write_text('missing.mp4 0\n' + ''.join(f'v{i}.mp4 0\n' for i in range(2000)))
    out_dir = tmp_path / 'out'
    proc = subprocess.Popen(
        [sys.executable, TOOL, str(VIDEO_CFG), '--split', 'train', '--decode', '--nproc', '1',
         '--out-dir', str(out_dir), '--cfg-options', f'train_dataloader.dataset.ann_file={ann}',
         f'train_dataloader.dataset.data_prefix.video={links}'],
        cwd=REPO_ROOT, env=subprocess_env(good_root), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE)
    err = bytearray()

    def pump() -> None:
        for chunk in iter(lambda: proc.stderr.read1(256), b''):
            err.extend(chunk)

    reader = threading.Thread(target=pump)
    reader.start()
    deadline = time.monotonic() + 120
    while b'/2001 [' not in err and time.monotonic() < deadline:
        time.sleep(0.1)  # until the bar is drawn: the probing has started
    time.sleep(1)
    proc.send_signal(signal.SIGINT)
    stopped = time.monotonic()
    stdout = proc.stdout.read().decode()
    assert proc.wait(timeout=30) == 130, stdout + err.decode()
    assert time.monotonic() - stopped < 10
    reader.join()
    assert any(line.startswith('interrupted: ') for line in stdout.splitlines())
    assert 'Traceback' not in err.decode()
    written = (out_dir / 'problems.jsonl').read_text().splitlines()
    assert len(written) <= 1 and not (out_dir / 'many.txt').exists()  # no list from a part


def test_damage_inside_an_openable_video_needs_decode(broken_root):
    videos = broken_root / 'videos'
    for name in ('cut.mp4', 'damaged.mp4'):
        assert video_problems(str(videos / name)) == []  # opens, declares 8 frames
    assert video_problems(str(videos / 'cut.mp4'), decode=True)[0].startswith(
        'decoder errors: [mpeg4 @ 0x')
    damaged = video_problems(str(videos / 'damaged.mp4'), decode=True)
    assert damaged and any('of the 8 frames its header declares' in p
                           or p.startswith('decoder errors') for p in damaged), damaged
    assert video_problems(str(videos / 'clip_0.mp4'), decode=True) == []


def test_the_damaged_real_format_videos_are_reported_with_decode(tmp_path, monkeypatch, capfd):
    from mmaction_data import write_damaged_videos
    ann = write_damaged_videos(tmp_path)
    folder = ann.parent
    assert video_problems(str(folder / 'truncated.avi')) == []  # opens: 6 frames indexed
    assert video_problems(str(folder / 'truncated.avi'), decode=True)[0] == (
        'decodes 6 of the 35 frames its header declares')
    garbage = video_problems(str(folder / 'garbage.webm'), decode=True)
    assert garbage[0] == 'decodes 5 of the 14 frames its header declares'
    assert garbage[1].startswith('decoder errors: Truncating packet of size ')
    monkeypatch.setenv('MS_DATA_ROOT', str(tmp_path / 'data'))
    status, stdout, _ = _main(REPO_ROOT / 'configs' / 'msnet_r50_sthv2.py', tmp_path, monkeypatch,
                              capfd, '--split', 'val', '--decode', '--cfg-options',
                              f'val_dataloader.dataset.ann_file={ann}',
                              f'val_dataloader.dataset.data_prefix.video={folder}')
    assert status == 1, stdout
    out = stdout.splitlines()
    assert out[1].startswith(f'  [damaged] {folder / "truncated.avi"}: decodes 6 of the 35 ')
    assert out[2].startswith(f'  [damaged] {folder / "garbage.webm"}: decodes 5 of the 14 ')
    assert out[3] == 'summary: 2 damaged'


def test_frame_folders_are_counted_and_decoded(broken_root, monkeypatch):
    ann, frames = broken_root / 'train_rawframes.txt', broken_root / 'rawframes'
    assert _problems(RAWFRAMES_CFG, broken_root, monkeypatch, splits=['train']) == [
        ('frames', f'{frames / "clip_2"}: the list says 8 frames, the folder has 6: 00007.jpg, '
                   f'00008.jpg missing (train: {ann}:3)'),
        ('frames', f'{frames / "clip_3"}: the list says 8 frames, the folder has 7: 00004.jpg '
                   f'missing (train: {ann}:4)')]
    problems = _problems(RAWFRAMES_CFG, broken_root, monkeypatch, splits=['train'],
                         decode=True)
    assert problems[2] == ('damaged', f'{frames / "clip_4"}: frame 00003.jpg: not a decodable '
                                      f'image (train: {ann}:5)')


def test_the_frame_folder_probe(broken_root):
    clip_3 = str(broken_root / 'rawframes' / 'clip_3')
    assert frame_folder_problems(clip_3, '{:05}.jpg') == [  # no count given: the gap
        'it should hold 8 frames, the folder has 7: 00004.jpg missing']
    assert frame_folder_problems(clip_3, '{:05}.jpg', 3) == [
        'the list says 3 frames, the folder has 7']
    assert frame_folder_problems(clip_3, '{:05}.jpg', 2, start_index=5, offset=1) == []
    clip_0 = str(broken_root / 'rawframes' / 'clip_0')
    assert frame_folder_problems(clip_0, '{:05}.jpg', 6) == [
        'the list says 6 frames, the folder has 8']
    assert frame_folder_problems(clip_0, '{:05}.jpg', 8, decode=True) == []
    assert frame_folder_problems(clip_0 + '_nope', '{:05}.jpg', 8) == ['no such folder']


def test_a_flip_map_beyond_num_classes_names_the_step(good_root, monkeypatch):
    key = 'train_dataloader.dataset.pipeline.5.flip_label_map'
    problems = _problems(VIDEO_CFG, good_root, monkeypatch, splits=['train'],
                         options={key: {0: 1, 1: 0, 2: 4, 4: 2}})
    assert problems == [('flip', f'{key}: maps label 2 to 4, not within num_classes 3 (train)')]
    # entries whose key is not a label never apply: a larger label set's map passes
    assert _problems(VIDEO_CFG, good_root, monkeypatch, splits=['train'],
                     options={key: {1: 2, 2: 1, 7: 8, 8: 7}}) == []


def test_a_missing_annotation_file_is_a_problem(good_root, tmp_path, monkeypatch):
    missing = tmp_path / 'nothing.txt'
    problems = _problems(VIDEO_CFG, good_root, monkeypatch, splits=['val', 'test'],
                         options={'val_dataloader.dataset.ann_file': str(missing),
                                  'test_dataloader.dataset.ann_file': str(missing)})
    assert problems == [('ann_file', f'{missing}: the annotation file does not exist '
                                     '(val+test)')]


def test_the_walker_sees_through_dataset_wrappers(good_root, monkeypatch):
    monkeypatch.setenv('MS_TINY_DATA', str(good_root))
    cfg = Config.fromfile(str(VIDEO_CFG))
    train, val = cfg.train_dataloader.dataset, cfg.val_dataloader.dataset
    cfg.train_dataloader.dataset = dict(type='ConcatDataset', datasets=[
        dict(type='RepeatDataset', times=2, dataset=train),
        dict(type='ClassBalancedDataset', oversample_thr=0.5,
             dataset=dict(val, data_root=str(good_root), ann_file='val_videos.txt'))])
    assert annotation_files(cfg, ['train_dataloader', 'test_dataloader']) == [
        ('train_dataloader.dataset.datasets.0.dataset', str(good_root / 'train_videos.txt')),
        ('train_dataloader.dataset.datasets.1.dataset', str(good_root / 'val_videos.txt')),
        ('test_dataloader.dataset', str(good_root / 'val_videos.txt'))]
    # built wrappers: the same walk (VideoDataset has no get_cat_ids for ClassBalancedDataset)
    balanced = cfg.train_dataloader.dataset.datasets[1]
    cfg.train_dataloader.dataset.datasets[1] = balanced.dataset
    report = check_datasets(cfg, ['train'], nproc=1)
    assert report.samples == dict(train=6 + 3) and report.files == 6


def test_a_missing_config_is_one_line(good_root, monkeypatch, capfd):
    status, _, stderr = _main(Path('configs/no_such_config.py'), good_root, monkeypatch, capfd)
    assert status == 2
    assert stderr == ('check_dataset.py: error: config configs/no_such_config.py does not '
                      'exist.\n')
