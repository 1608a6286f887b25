# TSM-MobileNetV2 with a MotionSqueeze module after layer3 (32 channels, 1/8 of
# the input: 8x8 at 64 px), from scratch, on the synthetic motion data. Same
# data and budget as tsm_mobilenetv2_synthetic.py; only the backbone's type and
# its MS settings differ.
_base_ = ['./tsm_mobilenetv2_synthetic.py', '../_base_/models/motion_squeeze.py']

model = dict(backbone=dict(type='MobileNetV2TSM_MS', ms_stages=(2, ), ms_cfg={{_base_.ms_cfg}}))
