# MSNet-R50 (Kwon et al., ECCV 2020): TSM ResNet-50 (1/8 of the channels
# shifted each way in every residual branch) with one MotionSqueeze module
# after res3 (`ms_stages=(1, )`); TSM head, dropout 0.5, 174 classes.
# Every value the model uses is stated here (MSNet's Python defaults are the
# same), so `print_config` shows the model the runner builds; a config that
# changes the frame count sets num_segments on the backbone and the head.
_base_ = ['./motion_squeeze.py']

model = dict(
    type='MSNet',
    backbone=dict(
        type='ResNetTSM_MS',
        pretrained='torchvision://resnet50',
        depth=50,
        num_segments=8,
        is_shift=True,
        shift_div=8,
        norm_eval=False,
        ms_stages=(1, ),  # after layer2 (res3)
        ms_cfg={{_base_.ms_cfg}}),  # _base_/models/motion_squeeze.py
    cls_head=dict(
        type='TSMHead',
        num_classes=174,
        in_channels=2048,
        num_segments=8,
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
