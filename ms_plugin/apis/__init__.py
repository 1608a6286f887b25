"""What the tools call: one function for each job, none of them in a tool.

* :mod:`.cli`: the arguments the tools share and the one-line entry errors;
* :mod:`.launch`: distributed launches, on CUDA or on the CPU (gloo);
* :mod:`.runner`: merging command-line choices into a config, checking the
  checkpoint a run starts from, running ``Runner.train()`` / ``Runner.test()``
  and tearing the process group down.
"""
from .cli import (CFG_OPTIONS_HELP, LAUNCHER_HELP, LAUNCHERS, EntryError, check_config,
                  check_input, check_output_dir, exit_on_entry_error)
from .launch import setup_cpu_distributed
from .runner import (build_runner, choose_resume_checkpoint, default_work_dir,
                     merge_test_args, merge_train_args, report_checkpoint_mismatch,
                     run_and_tear_down)

__all__ = [
    'CFG_OPTIONS_HELP', 'LAUNCHER_HELP', 'LAUNCHERS', 'EntryError', 'check_config',
    'check_input', 'check_output_dir', 'exit_on_entry_error', 'setup_cpu_distributed',
    'build_runner', 'choose_resume_checkpoint', 'default_work_dir', 'merge_test_args',
    'merge_train_args', 'report_checkpoint_mismatch', 'run_and_tear_down'
]
