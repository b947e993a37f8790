# Copyright (c) mmmedssl contributors. All rights reserved.
"""Publish a checkpoint: weights and meta only, named by their sha256, with
a JSON receipt (config, git commit, data files and their hashes, hardware,
wall time, final metrics) next to it:

    python tools/misc/publish_model.py IN_CHECKPOINT OUT_DIR [--name NAME]
        [--work-dir WORK_DIR]

See docs/publishing.md and ``mmmedssl.utils.publish``.
"""
import argparse
import sys

import mmmedssl  # noqa: F401  (safe checkpoint loading)
from mmmedssl.utils.checkpoint import CheckpointLoadError
from mmmedssl.utils.publish import publish_checkpoint


def main(argv=None):
    parser = argparse.ArgumentParser(
        description='Strip training state from a checkpoint, name it by its '
        'sha256 and write a receipt next to it')
    parser.add_argument('checkpoint', help='the checkpoint to publish')
    parser.add_argument('out_dir', help='where to write the files')
    parser.add_argument(
        '--name',
        help='file name stem (default: the config name of the run)')
    parser.add_argument(
        '--work-dir',
        help='the training work dir, for logs and metrics (default: the '
        "checkpoint's folder if it holds run folders)")
    args = parser.parse_args(argv)
    try:
        path, receipt = publish_checkpoint(args.checkpoint, args.out_dir,
                                           name=args.name,
                                           work_dir=args.work_dir)
    except (FileNotFoundError, ValueError, CheckpointLoadError) as err:
        sys.exit(f'publish_model: {err}')
    print(f'published {path}')
    print(f'receipt   {receipt}')


if __name__ == '__main__':
    main()
