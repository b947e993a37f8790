# Copyright (c) mmmedssl contributors. All rights reserved.
"""resolve_checkpoint: what every evaluation tool accepts as a checkpoint."""
import os

import pytest
import torch

from mmmedssl.downstream import resolve_checkpoint


def _touch(path):
    # A real (tiny) checkpoint: the work-dir lookup skips unloadable files.
    torch.save({}, str(path))
    return str(path)


def test_file_pointer_and_work_dir(tmp_path):
    epoch1 = _touch(tmp_path / 'epoch_1.pth')
    epoch2 = _touch(tmp_path / 'epoch_2.pth')
    assert resolve_checkpoint(epoch1) == epoch1
    # A work dir without a pointer: its newest epoch checkpoint.
    assert resolve_checkpoint(str(tmp_path)) == epoch2
    pointer = tmp_path / 'last_checkpoint'
    pointer.write_text(epoch1 + '\n')
    assert resolve_checkpoint(str(pointer)) == epoch1
    # A work dir with a pointer: the file it names.
    assert resolve_checkpoint(str(tmp_path)) == epoch1


def test_errors_name_what_is_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth does not exist'):
        resolve_checkpoint(str(tmp_path / 'nope.pth'))
    empty = tmp_path / 'empty'
    os.makedirs(empty)
    with pytest.raises(FileNotFoundError,
                       match='directory without a checkpoint'):
        resolve_checkpoint(str(empty))
    epoch3 = _touch(tmp_path / 'epoch_3.pth')
    pointer = tmp_path / 'last_checkpoint'
    pointer.write_text(str(tmp_path / 'epoch_9.pth'))
    with pytest.raises(FileNotFoundError) as err:
        resolve_checkpoint(str(pointer))
    assert 'epoch_9.pth' in str(err.value) and 'which does not exist' in \
        str(err.value) and epoch3 in str(err.value)
