# Copyright (c) mmmedssl contributors. All rights reserved.
"""Export a trained backbone for torchvision, timm, smp, MONAI or mmpretrain.

    python tools/model_converters/export_backbone.py CHECKPOINT \\
        --to {torchvision,timm,smp,monai,mmpretrain,plain,auto} [...] \\
        [--out FILE | --out-dir DIR] [--prefix backbone.] [--depth D] \\
        [--allow-partial]

CHECKPOINT is a checkpoint file, a ``last_checkpoint`` pointer or a work dir
(its last checkpoint). Each export is loaded into the target library's own
model; the table lists, per target, the keys that matched and the missing,
unexpected and shape-mismatched ones. The exit status is 1 unless every key
of every target matched; with ``--allow-partial`` mismatching exports are
written too and the status is 0 (a target that could not be built at all
still fails).

Files are written atomically: with ``--out FILE`` (one target) that file;
otherwise ``<target>.pth``, ``report.json`` and ``README.md`` (the Python
that loads each file) in ``--out-dir``, by default
``<checkpoint folder>/exported/<checkpoint name>/``. docs/export.md shows how
each library loads its file.
"""
import argparse
import os.path as osp
import sys

# Importing mmmedssl first installs the safe checkpoint loader.
import mmmedssl  # noqa: F401
from mmmedssl.apis import export_checkpoint
from mmmedssl.models.utils.weights.export import (TARGETS, format_table,
                                                  write_exports)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n\n', 2)[2])
    parser.add_argument(
        'checkpoint', help='checkpoint file, last_checkpoint file or work dir')
    parser.add_argument(
        '--to',
        nargs='+',
        required=True,
        choices=TARGETS + ('auto', ),
        help='target libraries; auto: torchvision and timm where they fit '
        'a ResNet (else mmpretrain), plain for the 3D U-Net encoder')
    out = parser.add_mutually_exclusive_group()
    out.add_argument('--out', help='the file to write (one target only)')
    out.add_argument(
        '--out-dir',
        help='folder for <target>.pth, report.json and README.md (default: '
        '<checkpoint folder>/exported/<checkpoint name>/)')
    parser.add_argument(
        '--prefix',
        default='backbone.',
        help="the backbone's key prefix, e.g. momentum_encoder.module.0. "
        '(default: backbone.)')
    parser.add_argument(
        '--depth',
        type=int,
        help='build ResNet targets at this depth (default: inferred)')
    parser.add_argument(
        '--allow-partial',
        action='store_true',
        help='write exports whose keys did not all match, and exit 0')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    checkpoint, results = export_checkpoint(
        args.checkpoint, args.to, prefix=args.prefix, depth=args.depth)
    if args.out and len(results) != 1:
        print(f'--out takes one target, got {[r.target for r in results]}; '
              'use --out-dir.', file=sys.stderr)
        return 2
    print(f'{checkpoint} ({args.prefix}): '
          f'{next((r.arch.describe() for r in results if r.arch), "")}')
    print(format_table(results))

    writable = [
        r for r in results
        if r.state_dict is not None and (r.ok or args.allow_partial)
    ]
    if args.out:
        for r in writable:
            r.save(args.out)
            print(f'wrote {args.out}')
    else:
        out_dir = args.out_dir or osp.join(
            osp.dirname(checkpoint), 'exported',
            osp.splitext(osp.basename(checkpoint))[0])
        files = write_exports(results, out_dir,
                              dict(checkpoint=checkpoint, prefix=args.prefix),
                              args.allow_partial)
        for path in files.values():
            print(f'wrote {path}')
        print(f"wrote {osp.join(out_dir, 'report.json')} and README.md")

    failed = [r.target for r in results if not r.ok]
    if args.allow_partial:  # only targets without any export still fail
        failed = [r.target for r in results if r.state_dict is None]
    if failed:
        print(f"export failed for {', '.join(failed)} (see above)"
              + ('' if args.allow_partial else
                 '; --allow-partial writes partial exports'),
              file=sys.stderr)
        return 1
    return 0

if __name__ == '__main__':
    sys.exit(main())
