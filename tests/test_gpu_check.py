"""tools/analysis/gpu_check.py (make gpu-check): its CPU dry run, and its refusal without CUDA."""
import re
import subprocess
import sys

import pytest
import torch
from conftest import REPO_ROOT, run_tool, subprocess_env

GPU_CHECK = REPO_ROOT / 'tools' / 'analysis' / 'gpu_check.py'


def test_dry_run_on_the_cpu_prints_one_table(tmp_path):
    proc = run_tool([sys.executable, GPU_CHECK, '--allow-cpu', '--tests', 'tests/test_cuda.py'],
                    subprocess_env(), cwd=tmp_path, timeout=240)
    lines = [line for line in proc.stdout.splitlines() if line.startswith('| ')]
    assert lines[0] == '| check | result | detail |'
    checks = [line.split(' | ')[0][2:] for line in lines[2:]]
    # One row per cuda-marked test (skipped on the CPU), then the measurements.
    assert 'test_cuda::test_train_then_test_on_one_gpu' in checks
    share = next(line for line in lines if 'MS share of an MSNet-R50 bf16' in line)
    assert re.search(r'\| [\d.]+ % \(paired [\d.]+ %\) \|', share), share
    assert any(check.startswith('saved for backward') for check in checks)
    assert sum(check.startswith('correlation ') for check in checks) == 2
    outcomes = {line.split(' | ')[1] for line in lines[2:] if 'test_cuda::' in line}
    assert outcomes == ({'passed'} if torch.cuda.is_available() else {'skipped'})


@pytest.mark.skipif(torch.cuda.is_available(), reason='CUDA is there: the check would run')
def test_without_cuda_it_says_so_and_fails(tmp_path):
    proc = subprocess.run([sys.executable, GPU_CHECK], env=subprocess_env(), cwd=tmp_path,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=120)
    assert proc.returncode == 1
    assert proc.stdout.strip().splitlines() == [proc.stdout.strip()]  # one line
    assert 'no CUDA device' in proc.stdout and '--allow-cpu' in proc.stdout


def test_make_target_runs_the_script():
    proc = subprocess.run(['make', '-n', 'gpu-check', 'GPU_CHECK_ARGS=--allow-cpu'],
                          cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True, timeout=60)
    assert proc.returncode == 0
    assert 'tools/analysis/gpu_check.py --allow-cpu' in proc.stdout
