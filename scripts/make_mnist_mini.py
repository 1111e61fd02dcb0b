#!/usr/bin/env python
"""Build nnlab/data/mnist-mini.npz from the four official MNIST IDX files.

mnist-mini = the FIRST 5,000 / 1,000 / 1,000 images of Nielsen's train /
validation / test parts, i.e. official train images 0..4999, official train
images 50000..50999 and official test images 0..999 (no RNG), so it equals
``load_dataset("mnist", train_size=5000, validation_size=1000, test_size=1000)``.

    nnlab data fetch mnist                 # the four verified IDX files, into $NNLAB_DATA/mnist
    python scripts/make_mnist_mini.py      # or --source FOLDER holding them

The .npz is written byte-for-byte reproducibly (fixed zip timestamps; the
deflate output depends only on the zlib version).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nnlab.data.datasets import default_data_dir, load_dataset  # noqa: E402
from nnlab.data.fetch import PAYLOADS, verify_payload  # noqa: E402
from nnlab.data.mnist import MINI_PARTS, idx_path  # noqa: E402

SIZES = {"train": 5000, "validation": 1000, "test": 1000}


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Like ``np.savez_compressed`` but with fixed timestamps, so reruns give the same bytes."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for name, array in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, buf.getvalue())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--source",
        type=Path,
        default=default_data_dir() / "mnist",
        help="folder with the four IDX .gz files (default: where `nnlab data fetch mnist` puts them)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "nnlab" / "data" / "mnist-mini.npz")
    args = parser.parse_args(argv)

    for stem in PAYLOADS:  # build only from the genuine files
        path = idx_path(args.source, stem)
        problem = "missing" if path is None else verify_payload(path, stem)
        if problem:
            parser.error(f"{args.source / stem}.gz: {problem}")
        print(f"source {path.name}: payload sha256 {PAYLOADS[stem][0]} verified")

    ds = load_dataset(
        "mnist", split="nielsen", data_dir=args.source, **{f"{part}_size": n for part, n in SIZES.items()}
    )
    arrays = {}
    for part in MINI_PARTS:
        split = getattr(ds, part)
        arrays[f"{part}_X"] = split.X
        arrays[f"{part}_y"] = split.y.astype(np.uint8)  # labels 0..9; int64 again on load
        print(f"{part}: {len(split)} images, class counts {np.bincount(split.y, minlength=10).tolist()}")
    write_npz(args.out, arrays)
    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes, sha256 {digest})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
