"""Draw what a model's MotionSqueeze module sees in one clip (the paper's Figures 5 and 6).

The clip is sampled as the config's test pipeline samples it, reduced to one
view (``twice_sample`` off, one clip of ``num_segments`` frames, ``CenterCrop``
instead of ``ThreeCrop``/``TenCrop``). The figure has a column per frame pair
and three rows: the frame, the displacement in optical-flow colours (with a
colour wheel) and the confidence (with a colour bar); see
:mod:`ms_plugin.visualization.motion` for the conventions and scaling.

INPUT is a video file (read with decord) or a folder of frames
(``img_00001.jpg`` / ``00001.jpg``, as ``RawframeDataset`` reads them). The
suffix of ``--out`` picks the output: ``.png``/``.jpg`` one figure,
``.gif``/``.mp4``/``.avi`` an animation with one figure per frame pair.

Examples::

    python tools/visualize_motion.py configs/synthetic/msnet_r18_synthetic.py \\
        clip.mp4 --checkpoint work_dirs/msnet/epoch_6.pth --out motion.png
    python tools/visualize_motion.py CONFIG frames_dir/ --out motion.gif   # random init
"""
import argparse
import copy
import os
import os.path as osp
import sys
from typing import List, Optional, Sequence, Tuple

import torch
from mmengine.config import Config, DictAction
from torch import nn

import ms_plugin  # noqa: F401  (the stack fixes, and the plugin's models registered)
from ms_plugin.deployment import config_test_dataset, config_test_pipeline
from ms_plugin.utils.checkpoint import CheckpointError
from ms_plugin.utils.checkpoint import load_weights as load_strict
from ms_plugin.utils.checkpoint import read_checkpoint

OUTPUT_SUFFIXES = ('.png', '.jpg', '.jpeg', '.gif', '.mp4', '.avi')
FRAME_TEMPLATES = ('img_{:05}.jpg', '{:05}.jpg', 'img_{:05}.png', '{:05}.png', '{:06}.jpg',
                   'image_{:05}.jpg')
VIDEO_STEPS = {
    'DecordInit': 'DecordDecode',
    'OpenCVInit': 'OpenCVDecode',
    'PyAVInit': 'PyAVDecode',
}
MULTI_CROPS = ('ThreeCrop', 'TenCrop')
SAMPLERS = ('SampleFrames', 'DenseSampleFrames', 'UniformSample', 'UniformSampleFrames')
RANDOM_INIT_NOTE = 'random initialisation (no --checkpoint): these maps are not learned'


class ToolError(Exception):
    """A problem the user can fix; main() prints it without a traceback."""


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Draw the frames, displacement maps and confidence maps of a '
        "model's MotionSqueeze module on one clip.")
    parser.add_argument('config', help='MMAction2 config of a model with a MotionSqueeze module')
    parser.add_argument('input', help='a video file or a folder of frames (img_00001.jpg ...)')
    parser.add_argument('--checkpoint', help='weights to load. Without it the model keeps its '
                        'random initialisation, and the figure says so')
    parser.add_argument('--out', required=True,
                        help=f'output file; its suffix ({", ".join(OUTPUT_SUFFIXES)}) picks a '
                        'figure or an animation')
    parser.add_argument('--module', help='name of the MotionSqueeze module to show (e.g. '
                        'backbone.ms_layer2). Defaults to the first one')
    parser.add_argument('--device', default='cpu', help='torch device. Defaults to cpu')
    parser.add_argument('--fps', type=float, default=2.0,
                        help='frames per second of an animation. Defaults to 2')
    parser.add_argument('--max-magnitude', type=float, default=None,
                        help='displacement (feature cells) drawn at full colour saturation. '
                        'Defaults to the largest of the clip')
    parser.add_argument('--interpolation', choices=('nearest', 'bilinear'), default='nearest',
                        help='upsampling of the maps to the frame size. Defaults to nearest '
                        '(one block per feature cell)')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the random initialisation (no checkpoint). Defaults to 0')
    parser.add_argument('--save-motion', metavar='FILE.npz',
                        help='also save the drawn maps (motion [T, 3, h, w]: dx, dy in units '
                        'of max_displacement cells, confidence; max_displacement; frames) '
                        'with numpy.savez')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, as in tools/test.py')
    return parser.parse_args(argv)


# ------------------------------------------------------------------ model
def build_model(cfg: Config, device: str) -> nn.Module:
    """Build ``cfg.model`` with no pretrained download (weights come from --checkpoint)."""
    from mmaction.registry import MODELS
    from mmaction.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    model_cfg = copy.deepcopy(cfg.model)
    backbone = model_cfg.get('backbone')
    if isinstance(backbone, dict) and 'pretrained' in backbone:
        backbone['pretrained'] = None
    return MODELS.build(model_cfg).to(device).eval()


def load_weights(model: nn.Module, path: str) -> None:
    """Load a checkpoint strictly, or raise ToolError listing what does not match."""
    try:
        checkpoint = read_checkpoint(path)
        load_strict(model, checkpoint, path)
    except CheckpointError as error:
        raise ToolError(f'cannot load {error}') from error
    except ValueError as error:
        hint = 'Use the config the checkpoint was trained with'
        weights = checkpoint.get('state_dict', checkpoint)
        if isinstance(weights, dict) and any(str(key).startswith(('base_model.',
                                                                  'module.base_model.'))
                                             for key in weights):
            hint += ('; a checkpoint of the authors\' code must first be converted with '
                     'tools/convert_official_ckpt.py')
        raise ToolError(f'{error}\n{hint}.') from error


# ------------------------------------------------------------------ data
def _test_pipeline(cfg: Config) -> List[dict]:
    try:
        return config_test_pipeline(cfg)
    except ValueError as error:
        raise ToolError(f'{error} Add one: the clip is sampled with it.') from error


def one_view_pipeline(pipeline: List[dict], num_frames: int, rawframes: bool) -> List[dict]:
    """The test pipeline reduced to one view of ``num_frames`` frames, for video or frames.

    ``twice_sample`` is turned off, ``DenseSampleFrames`` samples one position,
    a sampler that takes several clips of ``clip_len > 1`` takes one, and
    ``ThreeCrop``/``TenCrop`` become a ``CenterCrop`` of the same size. The
    decoding steps are swapped for the input's kind (decord for a video file,
    ``RawFrameDecode`` for a folder).
    """
    steps = []
    # A figure of one clip stops at an unreadable file anyway: the reading steps
    # come out of their UnreadableVideoGuard wrappers.
    pipeline = [inner for step in pipeline for inner in (
        step['transforms'] if step['type'] == 'UnreadableVideoGuard' else [step])]
    for step in pipeline:
        step = dict(step)
        kind = step['type']
        if kind in VIDEO_STEPS:
            if not rawframes:
                steps.append(step)
            continue
        if kind in VIDEO_STEPS.values() or kind == 'RawFrameDecode':
            steps.append(dict(type='RawFrameDecode') if rawframes else
                         dict(type='DecordDecode'))
            continue
        if kind in SAMPLERS:
            step['test_mode'] = True
            step.pop('twice_sample', None)
            if kind == 'DenseSampleFrames':
                step['num_sample_positions'] = 1
            clip_len = step.get('clip_len', 1)
            if clip_len > 1 and clip_len * step.get('num_clips', 1) > num_frames:
                step['num_clips'] = max(1, num_frames // clip_len)
        elif kind in MULTI_CROPS:
            step = dict(type='CenterCrop', crop_size=step['crop_size'])
        steps.append(step)
    if not rawframes and not any(step['type'] in VIDEO_STEPS for step in steps):
        steps.insert(0, dict(type='DecordInit'))
    return steps


def _frame_folder(path: str, dataset: dict) -> dict:
    """Results dict of a rawframes folder, finding its file-name template."""
    templates = [dataset['filename_tmpl']] if 'filename_tmpl' in dataset else []
    templates += [tmpl for tmpl in FRAME_TEMPLATES if tmpl not in templates]
    for tmpl in templates:
        for start in (dataset.get('start_index', 1), 1, 0):
            if osp.isfile(osp.join(path, tmpl.format(start))):
                count = 0
                while osp.isfile(osp.join(path, tmpl.format(start + count))):
                    count += 1
                return dict(frame_dir=path, total_frames=count, filename_tmpl=tmpl,
                            start_index=start, offset=0, label=-1, modality='RGB')
    raise ToolError(f'found no frames in folder {path}: expected files named like '
                    f'{", ".join(t.format(1) for t in templates[:3])}; give a video file or a '
                    'folder of numbered frames')


def _video(path: str) -> dict:
    """Results dict of a video file, after checking decord can read it."""
    import decord
    try:
        reader = decord.VideoReader(path, num_threads=1)
        num_frames = len(reader)
        if num_frames == 0:
            raise ValueError('it has no frames')
        reader[0]
    except Exception as error:
        raise ToolError(f'cannot read video {path}: {str(error).splitlines()[0] or error}. '
                        'Check that it is a complete video file (mp4, webm, avi, ...), or give '
                        'a folder of frames instead') from error
    return dict(filename=path, start_index=0, label=-1, modality='RGB')


def load_clip(cfg: Config, path: str, num_frames: int) -> Tuple[torch.Tensor, List[str]]:
    """Sample one view of ``num_frames`` frames as the config's test pipeline does.

    Returns:
        tuple: ``[T, 3, H, W]`` pixel values (RGB) and one title per frame pair
        naming the sampled frame indices.
    """
    from mmengine.dataset import Compose
    if not osp.exists(path):
        raise ToolError(f'input {path} does not exist')
    rawframes = osp.isdir(path)
    dataset = config_test_dataset(cfg)
    results = _frame_folder(path, dataset) if rawframes else _video(path)
    pipeline = Compose(one_view_pipeline(_test_pipeline(cfg), num_frames, rawframes))
    frame_inds = None
    for transform in pipeline.transforms:
        results = transform(results)
        if results is None:
            raise ToolError(f'the test pipeline dropped the input at {transform}')
        if frame_inds is None and 'frame_inds' in results:
            frame_inds = [int(i) for i in results['frame_inds']]
    clip = results['inputs']
    if clip.shape[0] != num_frames:
        raise ToolError(f'the one-view test pipeline gave {clip.shape[0]} frames but the '
                        f'model takes {num_frames} (num_segments); check the config\'s '
                        'SampleFrames (clip_len x num_clips)')
    if frame_inds is None or len(frame_inds) != num_frames:
        frame_inds = list(range(num_frames))
    titles = [f'{a} \u2192 {b}' for a, b in zip(frame_inds[:-1], frame_inds[1:])]
    return clip, titles


# ------------------------------------------------------------------ main
def run(args: argparse.Namespace) -> str:
    from ms_plugin.visualization import (find_motion_modules, motion_animation, motion_figure,
                                         motion_inputs, write_images)
    suffix = osp.splitext(args.out)[1].lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise ToolError(f'--out {args.out}: the suffix must be one of {OUTPUT_SUFFIXES}')
    if not osp.isfile(args.config):
        raise ToolError(f'config {args.config} does not exist')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    torch.manual_seed(args.seed)
    model = build_model(cfg, args.device)
    try:
        modules = find_motion_modules(model)
    except ValueError as error:
        raise ToolError(f'config {args.config}: {error}') from error
    if args.module is not None and args.module not in modules:
        raise ToolError(f'--module {args.module}: the model has MotionSqueeze modules '
                        f'{sorted(modules)}; pass one of these')
    name = args.module or next(iter(modules))
    if args.checkpoint:
        load_weights(model, args.checkpoint)
    clip, titles = load_clip(cfg, args.input, int(modules[name].num_segments))
    frames, motion, max_displacement, name = motion_inputs(model, clip, name)
    kwargs = dict(max_displacement=max_displacement, max_magnitude=args.max_magnitude,
                  titles=titles, interpolation=args.interpolation,
                  title=f'{osp.basename(args.input)}: {name} '
                  f'({osp.splitext(osp.basename(args.config))[0]})',
                  note=None if args.checkpoint else RANDOM_INIT_NOTE)
    if args.save_motion:
        import numpy as np
        os.makedirs(osp.dirname(osp.abspath(args.save_motion)), exist_ok=True)
        np.savez(args.save_motion, motion=motion.numpy(), max_displacement=max_displacement,
                 frames=frames, module=name)
    long_clip = len(titles) >= 8
    if suffix in ('.gif', '.mp4', '.avi'):
        images = motion_animation(frames, motion, progress=True, **kwargs)
    else:
        images = motion_figure(frames, motion, progress=long_clip, **kwargs)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    write_images(args.out, images, fps=args.fps)
    count = len(images) if isinstance(images, list) else 1
    shape = (images[0] if isinstance(images, list) else images).shape
    print(f'wrote {args.out}: {shape[1]}x{shape[0]} px, {count} image(s), module {name}, '
          f'{len(titles)} frame pairs' + ('' if args.checkpoint else ', random initialisation'))
    return args.out


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    try:
        run(args)
    except ToolError as error:
        print(f'error: {error}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
