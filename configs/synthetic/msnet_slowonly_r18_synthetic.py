# SlowOnly-R18 with a MotionSqueeze module after layer2 (128 channels, 8 frames,
# 8x8 at 64 px; [N, 128, 8, 8, 8] in and out), from scratch, on the synthetic
# motion data. Same data and budget as slowonly_r18_synthetic.py; only the
# backbone's type and its MS settings differ.
_base_ = ['./slowonly_r18_synthetic.py', '../_base_/models/motion_squeeze.py']

model = dict(
    backbone=dict(
        type='ResNet3dSlowOnly_MS', clip_len={{_base_.clip_len}}, ms_stages=(1, ),
        ms_cfg={{_base_.ms_cfg}}))
