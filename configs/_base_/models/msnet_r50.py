# MSNet-R50 (Kwon et al., ECCV 2020): TSM ResNet-50 (1/8 of the channels
# shifted each way in every residual branch) with one MotionSqueeze module
# after res3 (`ms_stages=(1, )`), ImageNet-initialised; TSM head, dropout 0.5.
# The head's in_channels, num_segments and temporal_pool follow the backbone
# (MSNet fills them in), so a config changes the frame count on the backbone only.
model = dict(
    type='MSNet',
    backbone=dict(
        type='ResNetTSM_MS',
        depth=50,
        pretrained='torchvision://resnet50',
        num_segments=8,
        shift_div=8,
        ms_stages=(1, ),
        ms_cfg=dict(),
        norm_eval=False),
    cls_head=dict(
        type='TSMHead',
        num_classes=174,
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
        format_shape='NCHW'),
    train_cfg=None,
    test_cfg=None)
