# A very small MSNet for end-to-end tests on the CPU: ResNet-18 TSM with one MS
# module, 4 segments of 32x32 crops, 3 classes, 2 epochs. Data configs inherit
# this and add the dataloaders (the data folder comes from the MS_TINY_DATA
# environment variable; tests/conftest.py writes that layout).
_base_ = ['../../../configs/_base_/default_runtime.py']

custom_imports = dict(imports=['ms_plugin'], allow_failed_imports=False)

num_segments = 4
num_classes = 3
crop_size = 32

# MSNet fills the head's in_channels and num_segments in from the backbone, and
# uses the ImageNet mean/std preprocessor by default.
model = dict(
    type='MSNet',
    backbone=dict(
        type='ResNetTSM_MS',
        depth=18,
        num_segments=num_segments,
        shift_div=8,
        ms_stages=(1, ),
        pretrained=None),
    cls_head=dict(type='TSMHead', num_classes=num_classes, dropout_ratio=0.5))

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=2, val_begin=1, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
val_evaluator = dict(type='AccMetric')
test_evaluator = val_evaluator

# MultiStepLR keeps a Counter in the checkpoint: resuming exercises ms_plugin.compat.
param_scheduler = [
    dict(type='MultiStepLR', begin=0, end=2, by_epoch=True, milestones=[1], gamma=0.1)
]
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=5e-4),
    clip_grad=dict(max_norm=20, norm_type=2))
auto_scale_lr = dict(enable=False, base_batch_size=2)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=1),
    checkpoint=dict(type='CheckpointHook', interval=1, save_best=None))
randomness = dict(seed=0, deterministic=False)
