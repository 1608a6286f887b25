# SlowOnly-R18 (MMAction2's ResNet3dSlowOnly: layer1-2 frame-wise, layer3-4
# inflated), from scratch, 8 consecutive frames, on the synthetic motion data:
# the baseline of msnet_slowonly_r18_synthetic.py.
_base_ = ['./_base_backbones_synthetic.py']

clip_len = {{_base_.num_frames}}
flip_label_map = {{_base_.flip_label_map}}

model = dict(
    type='Recognizer3D',
    backbone=dict(
        type='ResNet3dSlowOnly',
        depth=18,
        pretrained=None,
        pretrained2d=False,
        lateral=False,
        conv1_kernel=(1, 7, 7),
        conv1_stride_t=1,
        pool1_stride_t=1,
        inflate=(0, 0, 1, 1),
        norm_eval=False),
    cls_head=dict(
        type='I3DHead',
        in_channels=512,
        num_classes={{_base_.num_classes}},
        spatial_type='avg',
        dropout_ratio=0.5,
        average_clips='prob'),
    data_preprocessor=dict(
        type='ActionDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        format_shape='NCTHW'))

# 3D sampling: one clip of clip_len consecutive frames, [1, C, T, H, W].
train_pipeline = [
    dict(type='UnreadableVideoGuard', transforms=[dict(type='DecordInit')]),
    dict(type='SampleFrames', clip_len=clip_len, frame_interval=1, num_clips=1),
    dict(type='UnreadableVideoGuard', transforms=[dict(type='DecordDecode')]),
    dict(type='Flip', flip_ratio=0.5, flip_label_map=flip_label_map),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
val_pipeline = [
    dict(type='UnreadableVideoGuard', transforms=[dict(type='DecordInit')]),
    dict(type='SampleFrames', clip_len=clip_len, frame_interval=1, num_clips=1,
         test_mode=True),
    dict(type='UnreadableVideoGuard', transforms=[dict(type='DecordDecode')]),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = val_dataloader
