"""What the tools call: one function for each job, none of them in a tool.

* :mod:`.cli`: the arguments the tools share and the one-line entry errors;
* :mod:`.launch`: distributed launches, on CUDA or on the CPU (gloo);
* :mod:`.runner`: merging command-line choices into a config, checking the
  checkpoint a run starts from, running ``Runner.train()`` / ``Runner.test()``
  between setting the process group up and tearing it down;
* :mod:`.model`: a config's recognizer, a checkpoint loaded strictly;
* :mod:`.clip`: a video file or a folder of frames as a test clip;
* :mod:`.flops`: FLOPs and parameters of a config's model;
* :mod:`.export`: the ONNX export of a config's recognizer and its check;
* :mod:`.publish`: a training checkpoint stripped for release.

Imported by their module path, because they load matplotlib or tqdm:
:mod:`.motion` (a model's motion maps of one clip, and their figure),
:mod:`.progress` (a progress-bar hook of the Runner), and what ``make demo``
runs: :mod:`.demo_data` (its dataset, written once and reused) and
:mod:`.demo_run` (training, testing, counting and drawing in one process).
"""
from .cli import (CFG_OPTIONS_HELP, LAUNCHER_HELP, LAUNCHERS, EntryError, add_cfg_options,
                  add_launch_arguments, add_seed, add_timing_args, add_work_dir,
                  apply_timing_args, check_config, check_input, check_model_files,
                  check_output_dir, check_output_file, exit_on_entry_error, parse_launch_args,
                  tool_parser)
from .clip import (Clip, VideoError, config_test_dataset, config_test_pipeline, load_clip,
                   one_view_pipeline, pipeline_frames, read_frame_folder, views_and_size)
from .launch import setup_cpu_distributed
from .model import RandomWeightsWarning, build_recognizer, load_config, parse_cfg_options
from .publish import publish_checkpoint
from .runner import (build_runner, choose_resume_checkpoint, default_work_dir,
                     merge_test_args, merge_train_args, report_checkpoint_mismatch,
                     run_and_tear_down)

__all__ = [
    'CFG_OPTIONS_HELP', 'LAUNCHER_HELP', 'LAUNCHERS', 'EntryError', 'check_config',
    'check_input', 'check_model_files', 'check_output_dir', 'check_output_file',
    'exit_on_entry_error', 'tool_parser', 'add_cfg_options', 'add_seed', 'add_timing_args',
    'apply_timing_args', 'add_work_dir', 'add_launch_arguments', 'parse_launch_args',
    'setup_cpu_distributed', 'build_runner', 'choose_resume_checkpoint', 'default_work_dir',
    'merge_test_args', 'merge_train_args', 'report_checkpoint_mismatch', 'run_and_tear_down',
    'Clip', 'VideoError', 'config_test_dataset', 'config_test_pipeline', 'load_clip',
    'one_view_pipeline', 'pipeline_frames', 'read_frame_folder', 'views_and_size',
    'RandomWeightsWarning', 'build_recognizer', 'load_config', 'parse_cfg_options',
    'publish_checkpoint'
]
