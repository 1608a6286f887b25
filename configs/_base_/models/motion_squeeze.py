# The MotionSqueeze module's arguments, the authors' values: every config with
# MS modules states `ms_cfg={{_base_.ms_cfg}}` on its backbone (or overrides a
# value). `in_channels` and `num_segments` are not here: the backbone sets them
# for the stage each module follows. `norm_cfg` is the backbone's.
ms_cfg = dict(
    reduced_channels=64,  # channels after the 1x1 reduction
    max_displacement=7,  # a 15x15 correlation window, in feature-grid cells
    sigma=5.0,  # std of the kernel-soft-argmax's Gaussian, in grid cells
    temperature=100.0,  # softmax temperature
    soft_argmax='kernel',
    use_confidence=True,  # the confidence map goes to the transform with (dx, dy)
    correlation_impl='fused',  # 'strided' and 'allpairs' compute the same; 'allpairs' exports to ONNX
    transform_channels=(16, 32, 64),
    transform_kernel_sizes=(7, 3, 3, 3),
    act_cfg=dict(type='ReLU'))
