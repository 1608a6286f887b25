# Data, schedule and runtime shared by the synthetic-motion configs of the other
# backbone families (TSM-MobileNetV2 and SlowOnly-R18, each with and without
# MotionSqueeze): only the model differs between the two of a pair, so the
# with/without-MS comparison in docs/backbones.md has the same budget. Sized to
# train from scratch on a 2-core CPU in a few minutes per model.
#
# The demo's base (pipelines, data loaders, optimizer, runtime) with what
# differs: all 10 classes, the data folder, batch 8, validation every epoch,
# 5 epochs.
# The data: python tools/data/synthetic_motion.py data/synthetic_motion
# --num-videos 480 --val-videos 200 --layouts videos (10 classes that differ
# only in motion; 64 px, 8 frames per video).
# SYNTHETIC_MOTION_DATA=DIR in the environment reads it from DIR instead.
_base_ = ['./_base_synthetic.py']

num_classes = 10
num_frames = {{_base_.num_segments}}
data_root = '{{$SYNTHETIC_MOTION_DATA:data/synthetic_motion}}'

train_dataloader = dict(
    batch_size=8,
    dataset=dict(
        ann_file=f'{data_root}/train_list_videos.txt',
        data_prefix=dict(video=f'{data_root}/videos')))
val_dataloader = dict(
    batch_size=8,
    dataset=dict(
        ann_file=f'{data_root}/val_list_videos.txt',
        data_prefix=dict(video=f'{data_root}/videos')))
test_dataloader = val_dataloader

# The SlowOnly pair trains 5 epochs; the MobileNetV2 pair, lighter per step and
# slower to leave chance from scratch, sets 12 (tsm_mobilenetv2_synthetic.py).
max_epochs = 5
train_cfg = dict(max_epochs=max_epochs, val_begin=1, val_interval=1)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=30),
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=0, by_epoch=True,
         begin=0, end=max_epochs, convert_to_iter_based=True)
]
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=max_epochs))
