"""Reads an npz file with numpy alone and lists what it holds.

usage: npz_numpy.py NPZ LISTING VALUES

Writes to LISTING one line per array, in the file's order: its name, dtype and shape
("dense1.kernel <f4 784,50"), and to VALUES every array's values one after the other as
little-endian float32.
"""
import sys

import numpy as np


def main(argv):
    npz_path, listing_path, values_path = argv[1], argv[2], argv[3]
    with np.load(npz_path, allow_pickle=False) as arrays, open(listing_path, "w") as listing, \
            open(values_path, "wb") as values:
        for name in arrays.files:
            array = arrays[name]
            listing.write(f"{name} {array.dtype.str} {','.join(str(dim) for dim in array.shape)}\n")
            values.write(np.ascontiguousarray(array, dtype="<f4").tobytes())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
