# MSNet-R18 (TSM-R18 with a MotionSqueeze module after res3), from scratch, on
# the synthetic motion data.
_base_ = ['./tsm_r18_synthetic.py', '../_base_/models/motion_squeeze.py']

model = dict(
    type='MSNet',
    backbone=dict(type='ResNetTSM_MS', ms_stages=(1, ), ms_cfg={{_base_.ms_cfg}}))
