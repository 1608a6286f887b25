# MotionSqueeze in MMAction2's TSM MobileNetV2, Something-Something V2, 8 frames.
#
# MMAction2 1.2 ships no TSM-MobileNetV2 config for Something-Something V2 (its
# one TSM-MobileNetV2 config is for Kinetics-400:
# tsm_imagenet-pretrained-mobilenetv2_8xb16-1x1x8-100e_kinetics400-rgb.py). So
# this inherits the closest stock config that has the dataset, MMAction2's
# TSM-R50 SthV2 config (data, SthV2 flip label map, schedule, TSM head), and
# overrides only the model's backbone, with the settings of MMAction2's
# TSM-MobileNetV2 (_base_/models/tsm_mobilenet_v2.py: ImageNet MobileNetV2 from
# mmcls, shift 1/8) plus one MS module after layer3 (the first stage at 1/8 of
# the input, 32 channels at 28x28), and the head's in_channels, which the
# backbone's width forces (1280 instead of 2048). The MS arguments are
# _base_/models/motion_squeeze.py's; the frame count, which the stock config
# leaves to the classes' default 8, and format_shape are stated. No published
# result.
_base_ = [
    'mmaction::recognition/tsm/'
    'tsm_imagenet-pretrained-r50_8xb16-1x1x8-50e_sthv2-rgb.py',
    '_base_/models/motion_squeeze.py'
]

custom_imports = dict(imports=['ms_plugin'], allow_failed_imports=False)
default_scope = 'mmaction'

model = dict(
    backbone=dict(
        _delete_=True,  # ResNetTSM's arguments (depth, ...) do not apply
        type='MobileNetV2TSM_MS',
        num_segments=8,
        is_shift=True,
        shift_div=8,
        pretrained='mmcls://mobilenet_v2',
        norm_eval=False,
        ms_stages=(2, ),  # after layer3
        ms_cfg={{_base_.ms_cfg}}),
    cls_head=dict(in_channels=1280, num_segments=8),
    data_preprocessor=dict(format_shape='NCHW'))

# The data paths of MMAction2's config, under MS_DATA_ROOT (default `data`), as
# in this repository's own configs: `MS_DATA_ROOT=/datasets python tools/train.py ...`.
datasets_root = '{{$MS_DATA_ROOT:data}}'
train_dataloader = dict(dataset=dict(
    ann_file=f'{datasets_root}/sthv2/sthv2_train_list_videos.txt',
    data_prefix=dict(video=f'{datasets_root}/sthv2/videos')))
val_dataloader = dict(dataset=dict(
    ann_file=f'{datasets_root}/sthv2/sthv2_val_list_videos.txt',
    data_prefix=dict(video=f'{datasets_root}/sthv2/videos')))
test_dataloader = dict(dataset=dict(
    ann_file=f'{datasets_root}/sthv2/sthv2_val_list_videos.txt',
    data_prefix=dict(video=f'{datasets_root}/sthv2/videos')))
