"""Pure tensor functions (no OpenMMLab imports) behind the plugin's modules."""
from .correlation import (CORRELATION_IMPLS, accumulation_dtype, l2_normalize,
                          local_correlation, naive_local_correlation)
from .residual import relu_add
from .soft_argmax import (MATCHING_IMPLS, SOFT_ARGMAX_MODES, correlation_motion, displacement_grid,
                          kernel_soft_argmax)
from .temporal_shift import temporal_shift

__all__ = ['CORRELATION_IMPLS', 'accumulation_dtype', 'l2_normalize', 'local_correlation',
           'naive_local_correlation', 'relu_add', 'MATCHING_IMPLS', 'SOFT_ARGMAX_MODES', 'correlation_motion',
           'displacement_grid', 'kernel_soft_argmax', 'temporal_shift']
