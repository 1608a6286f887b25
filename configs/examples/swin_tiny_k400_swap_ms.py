# Use the MS module in a video transformer: MMAction2's own Video Swin-T config
# for Kinetics-400 (ImageNet-1k Swin-T inflated, 32 frames, one every 2), with
# its backbone swapped for SwinTransformer3D_MS. Only the backbone's type and
# the MS settings change; data, schedule (AdamW, AMP: it trains on a GPU, as
# MMAction2's does), head and the ImageNet inflation are MMAction2's. Patch
# (2, 4, 4): T = 32 / 2 = 16 at every stage; the MS module after stage 1 takes
# its token map before the patch merging, [N, 16, 28, 28, 192], as 16 frames of
# 192x28x28 per clip (res3's size), and stage 2 receives input + motion
# features. The SwinTransformer3D weights keep MMAction2's key names, so a
# checkpoint of that config loads with only the `backbone.ms_stage1` keys
# missing. The MS arguments are ../_base_/models/motion_squeeze.py's. No results.
_base_ = [
    'mmaction::recognition/swin/'
    'swin-tiny-p244-w877_in1k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb.py',
    '../_base_/models/motion_squeeze.py'
]

custom_imports = dict(imports=['ms_plugin'], allow_failed_imports=False)
default_scope = 'mmaction'

model = dict(
    backbone=dict(
        type='SwinTransformer3D_MS',
        clip_len=32,  # the pipeline's SampleFrames clip_len
        ms_stages=(1, ),  # after stage 1 (192 channels, 1/8 of the input)
        ms_cfg={{_base_.ms_cfg}},
        norm_eval=False))
