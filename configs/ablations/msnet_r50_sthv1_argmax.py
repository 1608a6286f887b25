# Ablation of MSNet-R50 (8 frames, Something-Something V1): the displacement estimate.
# Row: argmax: the best-matching displacement itself (`soft_argmax='hard'`;
# no gradient reaches the features through dx, dy, only through the confidence).
# Everything else is msnet_r50_sthv1.py (one module after res3, kernel-soft-
# argmax, confidence map, 15x15 window: the paper's 50.9 top-1).
# Paper (Kwon et al., ECCV 2020), ablation study: the table, the row and its
# top-1 are not given here; the paper's ablation tables could not be read from
# the sources this project reached (docs/ablations.md). Synthetic-data result
# of this row: docs/ablations.md.
_base_ = ['../msnet_r50_sthv1.py']

model = dict(backbone=dict(ms_cfg=dict(soft_argmax='hard')))
