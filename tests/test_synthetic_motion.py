"""The synthetic motion dataset: MMAction2 reads it, it is reproducible, and
its classes differ only in motion."""
import json
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config

from conftest import load_tool

import ms_plugin  # noqa: F401  (compat fixes before mmaction's registries)
from mmaction.registry import DATASETS
from mmengine.registry import init_default_scope
from synthetic_writer import (CLASS_SETS, CLASSES, TRANSLATION_CLASSES,
                                                 MotionSpec,
                                                 flip_label_map,
                                                 load_flip_label_map,
                                                 make_clip, make_clip_masks,
                                                 render_clip,
                                                 sample_appearance,
                                                 sample_motion, split_labels,
                                                 write_dataset)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
SIZE, FRAMES = 32, 8
COUNTS = dict(train=10, val=5)


@pytest.fixture(scope='module')
def dataset_dir(tmp_path_factory) -> str:
    out = str(tmp_path_factory.mktemp('synthetic'))
    write_dataset(out, COUNTS, seed=3, size=SIZE, num_frames=FRAMES)
    return out


def _read_lines(path: str) -> list:
    with open(path) as f:
        return f.read().split()


def _expected_clip(split: str, index: int) -> tuple:
    label = int(split_labels(3, split, COUNTS[split], len(CLASSES))[index])
    return make_clip(label, 3, split, index, SIZE, FRAMES), label


@pytest.mark.parametrize('layout', ['videos', 'rawframes'])
def test_mmaction_reads_both_layouts(dataset_dir, layout):
    init_default_scope('mmaction')
    sample = dict(type='SampleFrames', clip_len=1, frame_interval=1,
                  num_clips=FRAMES, test_mode=True)
    if layout == 'videos':
        cfg = dict(type='VideoDataset',
                   data_prefix=dict(video=osp.join(dataset_dir, 'videos')),
                   pipeline=[dict(type='DecordInit'), sample,
                             dict(type='DecordDecode')])
        tolerance = 15  # mp4 (MPEG-4 Part 2) is lossy at 32 px
    else:
        cfg = dict(type='RawframeDataset', filename_tmpl='{:05}.jpg',
                   data_prefix=dict(img=osp.join(dataset_dir, 'rawframes')),
                   pipeline=[sample, dict(type='RawFrameDecode')])
        tolerance = 10  # JPEG (quality 95, chroma subsampled)
    for split in COUNTS:
        dataset = DATASETS.build(dict(
            cfg, ann_file=osp.join(dataset_dir, f'{split}_list_{layout}.txt'),
            test_mode=True))
        assert len(dataset) == COUNTS[split]
        for index in (0, COUNTS[split] - 1):
            results = dataset[index]
            expected, label = _expected_clip(split, index)
            imgs = np.stack(results['imgs'])
            assert results['label'] == label
            assert imgs.shape == (FRAMES, SIZE, SIZE, 3)
            # Decoders give RGB in frame order: close to the rendered clip.
            error = np.abs(imgs.astype(float) - expected).mean()
            assert error < tolerance, (layout, split, index, error)
            reversed_gap = np.abs(expected[::-1].astype(float) - expected).mean()
            if reversed_gap > 2 * tolerance:  # frame order is observable
                assert np.abs(imgs[::-1].astype(float) - expected).mean() > error


def test_files_and_flip_map(dataset_dir):
    assert _read_lines(osp.join(dataset_dir, 'classes.txt')) == ' '.join(
        CLASSES).split()
    videos = _read_lines(osp.join(dataset_dir, 'train_list_videos.txt'))
    frames = _read_lines(osp.join(dataset_dir, 'train_list_rawframes.txt'))
    assert videos[:2] == ['train/train_00000.mp4',
                          str(_expected_clip('train', 0)[1])]
    assert frames[:3] == ['train/train_00000', str(FRAMES),
                          str(_expected_clip('train', 0)[1])]
    flip = load_flip_label_map(osp.join(dataset_dir, 'flip_label_map.json'))
    names = {CLASSES[a]: CLASSES[b] for a, b in flip.items()}
    assert names == {
        'moving left': 'moving right', 'moving right': 'moving left',
        'rotating clockwise': 'rotating anticlockwise',
        'rotating anticlockwise': 'rotating clockwise'}


def test_deterministic_for_a_seed(tmp_path):
    counts = dict(train=4)
    for name, seed in (('a', 5), ('b', 5), ('c', 6)):
        write_dataset(str(tmp_path / name), counts, seed=seed, size=24,
                      num_frames=4, layouts=('rawframes', ))

    def files(name):
        lines = (tmp_path / name / 'train_list_rawframes.txt').read_text()
        jpgs = [(tmp_path / name / 'rawframes' / 'train' /
                 f'train_{i:05}' / '00002.jpg').read_bytes()
                for i in range(counts['train'])]
        return lines, jpgs

    assert files('a') == files('b')
    assert files('a')[1] != files('c')[1]
    # A clip depends on (seed, split, index) only, not on the split's size.
    assert np.array_equal(make_clip(2, 5, 'train', 3, 24, 4),
                          make_clip(2, 5, 'train', 3, 24, 4))
    assert not np.array_equal(make_clip(2, 5, 'train', 3, 24, 4),
                              make_clip(2, 5, 'val', 3, 24, 4))


def test_single_frames_do_not_tell_the_class():
    """The first and the last frame look the same on average in every class
    (appearance and position are drawn independently of the class), while
    the change between frames tells still from moving clips."""
    clips_per_class, size, frames = 30, 16, 4
    stats, changes = [], []
    for label in range(len(CLASSES)):
        clips = np.stack([
            make_clip(label, 0, 'train', 1000 * label + i, size, frames)
            for i in range(clips_per_class)]).astype(float)
        # First and last frame, grey, in 4x4 blocks:
        # [n, T, H, W, 3] -> [n, 2, H/4, W/4] -> [n, 2 * H/4 * W/4]
        ends = clips[:, [0, -1]].mean(-1)
        blocks = ends.reshape(clips_per_class, 2, size // 4, 4, size // 4, 4)
        stats.append(blocks.mean((3, 5)).reshape(clips_per_class, -1))
        changes.append(np.abs(np.diff(clips, axis=1)).mean(axis=(1, 2, 3, 4)))

    def z_scores(values):
        """Each class's mean against the others', in standard errors."""
        values = np.stack(values)  # [classes, n, ...]
        mean = values.mean(1)
        error = values.std(1).mean(0) / np.sqrt(values.shape[1])
        return (mean - mean.mean(0)) / error

    # 10 classes x 32 blocks: |z| < 5 holds by chance with room to spare.
    assert np.abs(z_scores(stats)).max() < 5
    # The same statistics do tell the class from the change between frames.
    still = CLASSES.index('staying still')
    assert z_scores(changes)[still] < -5


def _mirror_appearance(appearance: dict, size: int) -> dict:
    """What a horizontal flip does to an appearance (x -> size - 1 - x)."""
    cx, cy = appearance['center']
    return dict(appearance,
                background=appearance['background'][:, ::-1],
                texture=appearance['texture'][:, ::-1],
                center=np.array([size - 1 - cx, cy]),
                angle=-appearance['angle'])


@pytest.mark.parametrize('label', range(len(CLASSES)))
def test_flip_map_matches_flipped_motion(label):
    """A flipped clip of class c is a clip of class flip_map.get(c, c)."""
    size, spec = 32, MotionSpec()
    flip = flip_label_map()
    rng = np.random.default_rng(label)
    appearance = sample_appearance(rng, size, spec)
    appearance['shape'] = 'circle'  # mirror-symmetric
    state = rng.bit_generator.state
    motion = sample_motion(label, FRAMES, rng, size, spec)
    mirrored = dict(motion, shift=motion['shift'] * [-1, 1],
                    turn=-motion['turn'])
    if CLASSES[label] == 'moving away and coming back':
        # Its direction is drawn at random: the mirror is another clip of it.
        assert label not in flip
        out = np.linalg.norm(motion['shift'], axis=1)
        assert np.allclose(np.linalg.norm(mirrored['shift'], axis=1), out)
        return
    rng.bit_generator.state = state
    target = sample_motion(flip.get(label, label), FRAMES, rng, size, spec)
    for key in ('shift', 'zoom', 'turn'):
        assert np.allclose(mirrored[key], target[key]), key
    # Pixels: the flipped clip is the target class's clip of the mirrored
    # appearance (up to rounding and the torus seam).
    flipped = render_clip(appearance, motion)[:, :, ::-1].astype(float)
    expected = render_clip(_mirror_appearance(appearance, size), target)
    assert np.mean(np.abs(flipped - expected) > 2) < 0.01
    if label in flip:
        unflipped = render_clip(_mirror_appearance(appearance, size), motion)
        assert np.mean(np.abs(flipped - unflipped) > 2) > 0.01


def test_motion_directions_in_pixels():
    """'moving right' moves +x and 'moving down' moves +y on screen."""
    size = 64
    spec = MotionSpec(speed=(0.03, 0.03), radius=(0.1, 0.1))
    for name, axis, sign in (('moving right', 1, 1), ('moving left', 1, -1),
                             ('moving down', 0, 1), ('moving up', 0, -1)):
        rng = np.random.default_rng(0)
        appearance = sample_appearance(rng, size, spec)
        appearance.update(background=np.zeros_like(appearance['background']),
                          texture=np.full_like(appearance['texture'], 200),
                          center=np.array([size / 2, size / 2]))
        motion = sample_motion(CLASSES.index(name), FRAMES, rng, size, spec)
        clip = render_clip(appearance, motion)[..., 0].astype(float)
        coords = np.arange(size)
        # Centroid of the object along the axis, per frame.
        profile = clip.sum(axis=2 - axis)
        centroid = (profile * coords).sum(1) / profile.sum(1)
        steps = np.diff(centroid)
        assert np.all(sign * steps > 0.5), (name, steps)


def test_configs_share_data_and_use_the_flip_map():
    cfgs = {name: Config.fromfile(
        osp.join(ROOT, 'configs', 'synthetic', f'{name}_r18_synthetic.py'))
        for name in ('tsn', 'tsm', 'msnet')}
    # The demo's classes are the first of all the classes, with the same labels,
    # so the flip map of all the classes, restricted to them, is theirs.
    assert TRANSLATION_CLASSES == CLASSES[:len(TRANSLATION_CLASSES)]
    demo_flips = flip_label_map(TRANSLATION_CLASSES)
    assert demo_flips == {1: 2, 2: 1}
    for cfg in cfgs.values():
        assert cfg.num_classes == len(TRANSLATION_CLASSES)
        assert cfg.model.cls_head.num_classes == len(TRANSLATION_CLASSES)
        flips = [t for t in cfg.train_dataloader.dataset.pipeline
                 if t.type == 'Flip']
        assert [t.flip_label_map for t in flips] == [flip_label_map()]
        assert {k: v for k, v in flips[0].flip_label_map.items()
                if k < cfg.num_classes} == demo_flips
    # Only the model differs (and the MS module's arguments, `ms_cfg`, part of it).
    dumps = {}
    for name, cfg in cfgs.items():
        d = cfg.to_dict()
        d.pop('model')
        d.pop('ms_cfg', None)
        dumps[name] = json.dumps(d, sort_keys=True, default=str)
    assert dumps['tsn'] == dumps['tsm'] == dumps['msnet']
    assert cfgs['tsn'].model.backbone.type == 'ResNet'
    assert cfgs['tsm'].model.backbone.type == 'ResNetTSM'
    assert cfgs['msnet'].model.backbone.type == 'ResNetTSM_MS'
    assert {c.model.backbone.pretrained for c in cfgs.values()} == {None}


def test_masks_show_where_the_object_is():
    """make_clip_masks is the ground truth of make_clip: the object covers the pixels
    that differ from the background, and a translating object's mask moves with it."""
    label = CLASSES.index('moving right')
    clip = make_clip(label, 0, 'val', 4, 48, 4).astype(float)
    masks = make_clip_masks(label, 0, 'val', 4, 48, 4)
    assert masks.shape == (4, 48, 48) and masks.dtype == np.float32
    assert 0 <= masks.min() and masks.max() == 1
    # The background is static: where no frame shows the object, nothing changes.
    empty = (masks == 0).all(0)
    assert empty.any()
    assert np.abs(np.diff(clip, axis=0))[:, empty].max() <= 1
    # Outside the object's edge, frame t shows the background of frame t+1's uncovered
    # pixels, and the mask covers the object's pixels: they change from frame to frame.
    inside = (masks[0] == 1) & (masks[1] == 0)
    assert np.abs(clip[0] - clip[1])[inside].mean() > 5
    # Moving right: the mask's horizontal circular mean moves right every frame.
    cols = np.exp(2j * np.pi * np.arange(48) / 48)
    centre = np.angle((masks.sum(1) * cols).sum(1)) * 48 / (2 * np.pi)
    steps = (np.diff(centre) + 24) % 48 - 24
    spec = MotionSpec()
    assert np.all(steps >= spec.speed[0] * 48 - 1) and np.all(steps <= spec.speed[1] * 48 + 1)


def test_cli_writes_a_named_class_set(tmp_path):
    """--class-set translation writes the demo's 5 classes, and labels only they use."""
    tool = load_tool('data/synthetic_motion')
    out = tmp_path / 'data'
    tool.main([str(out), '--num-videos', '10', '--val-videos', '5', '--size', '32',
               '--frames', '2', '--class-set', 'translation', '--layouts', 'videos'])
    assert _read_lines(str(out / 'classes.txt')) == ' '.join(TRANSLATION_CLASSES).split()
    labels = {int(line.split()[1]) for line in
              (out / 'train_list_videos.txt').read_text().splitlines()}
    assert labels == set(range(len(TRANSLATION_CLASSES)))
    meta = json.loads((out / 'meta.json').read_text())
    assert meta['classes'] == list(CLASS_SETS['translation'])
    assert load_flip_label_map(str(out / 'flip_label_map.json')) == {1: 2, 2: 1}
    with pytest.raises(SystemExit):  # a set and a list of names exclude each other
        tool.parse_args([str(out), '--class-set', 'translation', '--classes', 'moving left'])
