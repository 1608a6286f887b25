# MotionSqueeze in MMAction2's SlowOnly-R50, Kinetics-400, 8x8 (8 frames, one
# every 8): MMAction2's own ImageNet-pretrained SlowOnly-R50 8x8x1 config with
# its backbone swapped for ResNet3dSlowOnly_MS. Only the backbone's type and
# the MS settings change; data, schedule, head and the ImageNet inflation are
# MMAction2's. SlowOnly's layer1 and layer2 are frame-wise (no temporal kernel
# or stride), so the MS module after layer2 (res3) sees all 8 frames,
# [N, 512, 8, 28, 28], and its output goes on into the inflated layer3. The
# ResNet3dSlowOnly weights keep MMAction2's key names, so a checkpoint of that
# config loads with only the `backbone.ms_layer2` keys missing. The MS
# arguments are _base_/models/motion_squeeze.py's. No published result.
_base_ = [
    'mmaction::recognition/slowonly/'
    'slowonly_imagenet-pretrained-r50_8xb16-8x8x1-steplr-150e_kinetics400-rgb.py',
    '_base_/models/motion_squeeze.py'
]

custom_imports = dict(imports=['ms_plugin'], allow_failed_imports=False)
default_scope = 'mmaction'

model = dict(
    backbone=dict(
        type='ResNet3dSlowOnly_MS',
        clip_len=8,  # the pipeline's SampleFrames clip_len
        ms_stages=(1, ),  # after layer2 (res3)
        ms_cfg={{_base_.ms_cfg}}))

# The data paths of MMAction2's config, under MS_DATA_ROOT (default `data`), as
# in this repository's own configs: `MS_DATA_ROOT=/datasets python tools/train.py ...`.
datasets_root = '{{$MS_DATA_ROOT:data}}'
train_dataloader = dict(dataset=dict(
    ann_file=f'{datasets_root}/kinetics400/kinetics400_train_list_videos.txt',
    data_prefix=dict(video=f'{datasets_root}/kinetics400/videos_train')))
val_dataloader = dict(dataset=dict(
    ann_file=f'{datasets_root}/kinetics400/kinetics400_val_list_videos.txt',
    data_prefix=dict(video=f'{datasets_root}/kinetics400/videos_val')))
test_dataloader = dict(dataset=dict(
    ann_file=f'{datasets_root}/kinetics400/kinetics400_val_list_videos.txt',
    data_prefix=dict(video=f'{datasets_root}/kinetics400/videos_val')))
