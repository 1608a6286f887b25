# Use the MS module in another config: MMAction2's own TSM-R50 config for
# Something-Something V2, with its backbone swapped for ResNetTSM_MS. Only the
# backbone's type and the MS settings change; data, schedule, head and the
# ImageNet initialisation are MMAction2's. The TSM weights keep MMAction2's
# key names, so a TSM checkpoint of that config loads into this model with
# only the `backbone.ms_layer*` keys missing.
_base_ = [
    'mmaction::recognition/tsm/'
    'tsm_imagenet-pretrained-r50_8xb16-1x1x8-50e_sthv2-rgb.py'
]

custom_imports = dict(imports=['ms_plugin'], allow_failed_imports=False)
default_scope = 'mmaction'

model = dict(
    backbone=dict(
        type='ResNetTSM_MS',
        ms_stages=(1, ),  # one MS module after res3 (layer2), as MSNet
        ms_cfg=dict(max_displacement=7)))
