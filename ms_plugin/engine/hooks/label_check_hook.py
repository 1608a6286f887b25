"""Labels checked against the classifier when a loop starts (see docs/fault_tolerance.md)."""
from typing import Set

from mmaction.registry import HOOKS
from mmengine.hooks import Hook

from ...datasets.check import check_labels, model_num_classes

__all__ = ['LabelCheckHook']


@HOOKS.register_module()
class LabelCheckHook(Hook):
    """Stop before the first iteration when a label does not fit the classifier.

    Before training, validation and testing, every annotation record of the
    loop's dataset (inside RepeatDataset, ConcatDataset, ... too) is checked
    against the model's ``cls_head.num_classes``, and so is the
    ``flip_label_map`` of every ``Flip`` step of the dataset's pipeline.
    Without this, such a label ends the run with
    ``IndexError: Target N is out of bounds`` (a device-side assert on a GPU)
    at whichever iteration first draws it. Only the records are read, no
    video; a model without ``cls_head.num_classes`` is not checked.

    Raises:
        InputError: One line naming the label, the annotation file and
            line, ``num_classes``, and the setting to change.
    """

    priority = 'HIGH'  # before UnreadableVideoHook reads every video for 'leave_out'

    def __init__(self) -> None:
        self._checked: Set[int] = set()  # id() of the datasets already checked

    def _check(self, runner, loop, stage: str) -> None:
        dataset = loop.dataloader.dataset
        num_classes = model_num_classes(runner.model)
        if num_classes is None or id(dataset) in self._checked:
            return
        check_labels(dataset, num_classes, f'{stage}_dataloader.dataset')
        self._checked.add(id(dataset))

    def before_train(self, runner) -> None:
        self._check(runner, runner.train_loop, 'train')

    def before_val(self, runner) -> None:
        self._check(runner, runner.val_loop, 'val')

    def before_test(self, runner) -> None:
        self._check(runner, runner.test_loop, 'test')
