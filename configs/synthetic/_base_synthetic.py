# Data, schedule and runtime shared by the synthetic-motion configs
# (tsn_r18_synthetic.py, tsm_r18_synthetic.py, msnet_r18_synthetic.py): only
# the model differs between them. Sized to train from scratch on a 2-core CPU
# in about two minutes each; `make demo` trains all three and
# compares them (docs/demo.md).
#
# The data, as `make demo` writes it: python tools/data/synthetic_motion.py
# data/synthetic_motion --num-videos 640 --val-videos 200 --size 96
# --class-set translation --radius 0.25 0.35 --speed 0.2 0.28 --layouts videos
# (5 classes that differ only in motion: a textured object, 24 to 34 px in
# radius, stays still or moves 19 to 27 px a frame left, right, up or down
# over a textured background; 8 frames of 96x96 per video, so the MS module
# after res3 sees 12x12 feature maps).
_base_ = ['../_base_/default_runtime.py']

custom_imports = dict(imports=['ms_plugin'], allow_failed_imports=False)

num_classes = 5
num_segments = 8
data_root = 'data/synthetic_motion'
# The generator's flip map of all its classes (ms_plugin.datasets.
# flip_label_map(); a test checks that the two agree): a horizontal flip swaps
# left/right and clockwise/anticlockwise. The demo's 5 classes are the first
# 5 of the 10, with the same labels, so it serves both (7 and 8 never occur in
# the demo's data).
flip_label_map = {1: 2, 2: 1, 7: 8, 8: 7}

dataset_type = 'VideoDataset'
train_pipeline = [
    dict(type='UnreadableVideoGuard', transforms=[dict(type='DecordInit')]),
    dict(type='SampleFrames', clip_len=1, frame_interval=1,
         num_clips=num_segments),
    dict(type='UnreadableVideoGuard', transforms=[dict(type='DecordDecode')]),
    dict(type='Flip', flip_ratio=0.5, flip_label_map=flip_label_map),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs')
]
val_pipeline = [
    dict(type='UnreadableVideoGuard', transforms=[dict(type='DecordInit')]),
    dict(type='SampleFrames', clip_len=1, frame_interval=1,
         num_clips=num_segments, test_mode=True),
    dict(type='UnreadableVideoGuard', transforms=[dict(type='DecordDecode')]),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs')
]
test_pipeline = val_pipeline

train_dataloader = dict(
    batch_size=4,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        ann_file=f'{data_root}/train_list_videos.txt',
        data_prefix=dict(video=f'{data_root}/videos'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=16,
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

# 2 epochs of 640 videos, batch 4: 320 iterations (twice the updates of batch
# 8 for the same clips: MSNet-R18 learns the directions much sooner, see
# docs/demo.md). Validation only after the last epoch (the demo tests the last
# checkpoint with tools/test.py instead).
max_epochs = 2
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_begin=max_epochs,
    val_interval=max_epochs)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=32),
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=0, by_epoch=True,
         begin=0, end=max_epochs, convert_to_iter_based=True)
]
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, nesterov=True,
                   weight_decay=1e-4),
    clip_grad=dict(max_norm=20, norm_type=2))

default_hooks = dict(
    logger=dict(interval=25),
    checkpoint=dict(interval=max_epochs, save_best=None, max_keep_ckpts=1))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0, deterministic=False)
