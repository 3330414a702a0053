#!/usr/bin/env python3
"""Build the reference models (ascvd-pce, prevent, news2, diabetes-progression) into model_artifacts/.

    python scripts/build_reference_models.py                 # (re)write model_artifacts/
    python scripts/build_reference_models.py --check         # build elsewhere, fail if committed files differ
    python scripts/build_reference_models.py --out /tmp/m --synthea-dir ../shared/data/synthea-r4

Idempotent: a rebuild with the same library versions writes the same bytes (and the same sha256).
The builders live in cds_server/inference/reference/; this is only the command line.
"""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))

from cds_server.inference.reference import build_reference_models  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--out", type=Path, default=REPOSITORY / "model_artifacts", help="model repository to write"
    )
    parser.add_argument(
        "--synthea-dir", type=Path, default=None, help="Synthea R4 bundles (default: ../shared)"
    )
    parser.add_argument(
        "--check", action="store_true", help="build into a temporary directory and compare with --out"
    )
    args = parser.parse_args(argv)

    if not args.check:
        for result in build_reference_models(args.out, synthea_dir=args.synthea_dir):
            print(f"{result.model_id:22} {result.version:8} {result.size_bytes:7} B  sha256 {result.sha256}")
        return 0

    with tempfile.TemporaryDirectory() as scratch:
        results = build_reference_models(Path(scratch), synthea_dir=args.synthea_dir)
        drifted = [
            str(path.relative_to(scratch))
            for result in results
            for path in sorted(result.directory.iterdir())
            if not filecmp.cmp(path, args.out / path.relative_to(scratch), shallow=False)
        ]
    if drifted:
        print("committed artifacts differ from a fresh build:", *drifted, sep="\n  ")
        return 1
    print(f"{len(results)} models rebuilt identically")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
