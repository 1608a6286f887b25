"""Zero-padded temporal shift (TSM, Lin et al., ICCV 2019) as a pure function."""
import torch

__all__ = ['temporal_shift']


def temporal_shift(x: torch.Tensor, num_segments: int, shift_div: int = 8) -> torch.Tensor:
    """Shift a fraction of the channels by one frame along time.

    Frames of one clip are consecutive along the batch axis (``N*T``, clip-major,
    MMAction2's layout). With ``fold = C // shift_div``, channels ``[0, fold)`` of
    frame ``t`` are taken from frame ``t + 1``, channels ``[fold, 2 * fold)`` from
    frame ``t - 1``, and the rest are kept. Where the source frame does not exist
    (past the last frame, before the first) the shifted channels are zero.

    Args:
        x (torch.Tensor): Frame-wise features of shape [N*T, C, ...] (any number
            of trailing spatial dimensions, including none).
        num_segments (int): Frames per clip, ``T``.
        shift_div (int): The inverse of the fraction of channels shifted each way.
            Defaults to 8.

    Returns:
        torch.Tensor: A new tensor with the shape, dtype and device of ``x``.
    """
    if num_segments < 1:
        raise ValueError(f'num_segments must be >= 1, got {num_segments}.')
    if shift_div < 2:
        raise ValueError(f'shift_div must be >= 2 (two folds are shifted), got {shift_div}.')
    if x.dim() < 2:
        raise ValueError(f'x must be [N*T, C, ...], got shape {tuple(x.shape)}.')
    if x.shape[0] % num_segments != 0:
        raise ValueError(
            f'The batch axis of x ({x.shape[0]}) is not a multiple of num_segments '
            f'({num_segments}); pass N*T frames, T = num_segments frames per clip.')
    n_t, channels = x.shape[:2]
    fold = channels // shift_div
    # [N*T, C, ...] -> [N, T, C, ...]
    clips = x.reshape(n_t // num_segments, num_segments, *x.shape[1:])
    out = torch.zeros_like(clips)
    out[:, :-1, :fold] = clips[:, 1:, :fold]  # from t + 1
    out[:, 1:, fold:2 * fold] = clips[:, :-1, fold:2 * fold]  # from t - 1
    out[:, :, 2 * fold:] = clips[:, :, 2 * fold:]
    # [N, T, C, ...] -> [N*T, C, ...]
    return out.reshape(x.shape)
