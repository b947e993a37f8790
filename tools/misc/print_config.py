# Copyright (c) mmmedssl contributors. All rights reserved.
"""Print a config after inheritance and ``--cfg-options``:

    python tools/misc/print_config.py CONFIG [--cfg-options k=v ...]
"""
import argparse

import mmmedssl  # noqa: F401  (enables mmmedssl:: references)
from mmengine.config import Config, DictAction


def main(argv=None):
    parser = argparse.ArgumentParser(description='Print the full config')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings, key=value pairs')
    args = parser.parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    print(cfg.pretty_text)


if __name__ == '__main__':
    main()
