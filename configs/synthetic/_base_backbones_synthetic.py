# Data, schedule and runtime shared by the synthetic-motion configs of the other
# backbone families (TSM-MobileNetV2 and SlowOnly-R18, each with and without
# MotionSqueeze): only the model differs between the two of a pair, so the
# with/without-MS comparison in docs/backbones.md has the same budget. Sized to
# train from scratch on a 2-core CPU in a few minutes per model.
#
# The data: python tools/data/synthetic_motion.py data/synthetic_motion
# (10 classes that differ only in motion; 64 px, 8 frames per video).
# SYNTHETIC_MOTION_DATA=DIR in the environment reads it from DIR instead.
_base_ = ['../_base_/default_runtime.py']

custom_imports = dict(imports=['ms_plugin'], allow_failed_imports=False)

num_classes = 10
num_frames = 8
data_root = '{{$SYNTHETIC_MOTION_DATA:data/synthetic_motion}}'
# The generator's flip_label_map.json: a horizontal flip swaps left/right and
# clockwise/anticlockwise.
flip_label_map = {1: 2, 2: 1, 7: 8, 8: 7}

# 2D (TSM) sampling: num_frames segments of one frame, [T, C, H, W] per clip.
# The 3D configs replace the sampler and the format (clip_len=num_frames, NCTHW).
dataset_type = 'VideoDataset'
train_pipeline = [
    dict(type='UnreadableVideoGuard', transforms=[dict(type='DecordInit')]),
    dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=num_frames),
    dict(type='UnreadableVideoGuard', transforms=[dict(type='DecordDecode')]),
    dict(type='Flip', flip_ratio=0.5, flip_label_map=flip_label_map),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs')
]
val_pipeline = [
    dict(type='UnreadableVideoGuard', transforms=[dict(type='DecordInit')]),
    dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=num_frames,
         test_mode=True),
    dict(type='UnreadableVideoGuard', transforms=[dict(type='DecordDecode')]),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs')
]
test_pipeline = val_pipeline

train_dataloader = dict(
    batch_size=8,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        ann_file=f'{data_root}/train_list_videos.txt',
        data_prefix=dict(video=f'{data_root}/videos'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        ann_file=f'{data_root}/val_list_videos.txt',
        data_prefix=dict(video=f'{data_root}/videos'),
        pipeline=val_pipeline,
        test_mode=True))
test_dataloader = val_dataloader

val_evaluator = dict(type='AccMetric')
test_evaluator = val_evaluator

# The SlowOnly pair trains 5 epochs; the MobileNetV2 pair, lighter per step and
# slower to leave chance from scratch, sets 12 (tsm_mobilenetv2_synthetic.py).
max_epochs = 5
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_begin=1, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=30),
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=0, by_epoch=True,
         begin=0, end=max_epochs, convert_to_iter_based=True)
]
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-4),
    clip_grad=dict(max_norm=20, norm_type=2))

default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=max_epochs, save_best=None, max_keep_ckpts=1))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0, deterministic=False)
