# TSM-MobileNetV2 (MMAction2's MobileNetV2TSM), from scratch, on the synthetic
# motion data: the baseline of msnet_mobilenetv2_synthetic.py.
_base_ = ['./_base_backbones_synthetic.py']

# A longer schedule than the base's: MobileNetV2 from scratch stays at chance
# for the base's 5 epochs. The MS config inherits it unchanged.
max_epochs = 12
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=30),
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=0, by_epoch=True,
         begin=0, end=max_epochs, convert_to_iter_based=True)
]
default_hooks = dict(checkpoint=dict(interval=max_epochs))

model = dict(
    type='Recognizer2D',
    backbone=dict(
        type='MobileNetV2TSM',
        num_segments={{_base_.num_frames}},
        is_shift=True,
        shift_div=8,
        pretrained=None,
        pretrained2d=False,
        norm_eval=False),
    cls_head=dict(
        type='TSMHead',
        num_segments={{_base_.num_frames}},
        num_classes={{_base_.num_classes}},
        in_channels=1280,
        spatial_type='avg',
        consensus=dict(type='AvgConsensus', dim=1),
        dropout_ratio=0.5,
        init_std=0.001,
        is_shift=True,
        average_clips='prob'),
    data_preprocessor=dict(
        type='ActionDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        format_shape='NCHW'))
