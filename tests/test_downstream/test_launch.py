# Copyright (c) mmmedssl contributors. All rights reserved.
"""Stopping a study stops its running job: no orphan trains on."""
import os
import signal
import subprocess
import sys
import time

import pytest

from ..conftest import process_running

DRIVER = r'''
import sys
from mmmedssl.downstream import launch
launch.tool_script = lambda name: sys.argv[1]
from mmmedssl.utils.signals import exit_on_sigterm
exit_on_sigterm()
launch.run_tool('train.py', [sys.argv[2]], sys.argv[3])
'''
CHILD = r'''
import os, sys, time
open(sys.argv[1], 'w').write(str(os.getpid()))
time.sleep(120)
'''


@pytest.mark.skipif(sys.platform == 'win32', reason='POSIX signals')
@pytest.mark.parametrize('signum, code', [(signal.SIGTERM, 143),
                                          (signal.SIGINT, None)])
def test_signal_to_the_study_stops_its_job(tmp_path, signum, code):
    child, pid_file = tmp_path / 'child.py', tmp_path / 'child.pid'
    child.write_text(CHILD)
    driver = subprocess.Popen(
        [sys.executable, '-c', DRIVER, str(child), str(pid_file),
         str(tmp_path / 'job.log')], start_new_session=True)
    deadline = time.time() + 60
    while not (pid_file.exists() and pid_file.read_text()):
        assert time.time() < deadline, 'the job never started'
        assert driver.poll() is None, 'the driver died first'
        time.sleep(0.1)
    job = int(pid_file.read_text())
    assert process_running(job)
    os.kill(driver.pid, signum)
    try:
        returncode = driver.wait(timeout=90)
    except subprocess.TimeoutExpired:
        os.killpg(driver.pid, signal.SIGKILL)  # the driver's own session
        raise
    assert returncode != 0
    if code is not None:
        assert returncode == code
    deadline = time.time() + 10
    while process_running(job) and time.time() < deadline:
        time.sleep(0.1)
    if process_running(job):
        os.kill(job, signal.SIGKILL)
        pytest.fail('the job outlived the study that started it')
