# Use the MS module in another config: MMAction2's own TSM-R50 config for
# Something-Something V2, with its backbone swapped for ResNetTSM_MS. Only the
# backbone's type and the MS settings change; data, schedule, head and the
# ImageNet initialisation are MMAction2's. The TSM weights keep MMAction2's
# key names, so a TSM checkpoint of that config loads into this model with
# only the `backbone.ms_layer*` keys missing. The MS arguments are
# ../_base_/models/motion_squeeze.py's; the frame count, which the stock config
# leaves to the classes' default 8, and the other values it leaves to them
# (is_shift, format_shape) are stated.
_base_ = [
    'mmaction::recognition/tsm/'
    'tsm_imagenet-pretrained-r50_8xb16-1x1x8-50e_sthv2-rgb.py',
    '../_base_/models/motion_squeeze.py'
]

custom_imports = dict(imports=['ms_plugin'], allow_failed_imports=False)
default_scope = 'mmaction'

model = dict(
    backbone=dict(
        type='ResNetTSM_MS',
        num_segments=8,
        is_shift=True,
        ms_stages=(1, ),  # one MS module after res3 (layer2), as MSNet
        ms_cfg={{_base_.ms_cfg}}),
    cls_head=dict(num_segments=8),
    data_preprocessor=dict(format_shape='NCHW'))
