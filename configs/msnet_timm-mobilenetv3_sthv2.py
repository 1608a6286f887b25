# A lighter MSNet on Something-Something V2, 8 frames: timm's MobileNetV3-Large
# (mobilenetv3_large_100) with TSM's temporal shift in every block and one MS
# module after its first stride-8 stage (feature_info[2], 40 channels), through
# the TimmTSM_MS backbone. Data, schedule and head are those of
# msnet_r50_sthv2.py. No published result.
#
# ImageNet weights come from a local file (no downloads at build time). On a
# machine with internet access:
#   python -c "import timm, torch; m = timm.create_model('mobilenetv3_large_100', \
#       pretrained=True); torch.save(m.state_dict(), 'mobilenetv3_large_100.pth')"
# and copy it to checkpoints/timm/ (or set model.backbone.pretrained=None to
# start from scratch, e.g. `--cfg-options model.backbone.pretrained=None`).
_base_ = ['msnet_r50_sthv2.py']

model = dict(
    backbone=dict(
        _delete_=True,  # nothing of ResNetTSM_MS's arguments applies
        type='TimmTSM_MS',
        model_name='mobilenetv3_large_100',
        num_segments=8,
        ms_stages=None,  # the first stride-8 stage
        ms_cfg={{_base_.model.backbone.ms_cfg}},  # msnet_r50_sthv2.py's
        shift=True,
        shift_div=8,
        out_stage=-1,  # the features of the last stage
        norm_eval=False,
        pretrained='checkpoints/timm/mobilenetv3_large_100.pth'),
    # feature_info[-1]['num_chs'] of mobilenetv3_large_100 (MSNet checks it
    # against the backbone's feat_dim).
    cls_head=dict(in_channels=960))
