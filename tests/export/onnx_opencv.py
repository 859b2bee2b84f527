"""Checks an exported ONNX model and runs it with an independent engine.

usage: onnx_opencv.py MODEL INPUTS ROWS FEATURES OUTPUTS

Runs onnx.checker (full_check: with shape inference) on MODEL, then OpenCV's DNN module
(cv2.dnn.readNetFromONNX) on the ROWS x FEATURES little-endian float32 samples in INPUTS,
and writes its outputs to OUTPUTS as little-endian float32, row-major.
"""
import sys

import cv2
import numpy as np
import onnx


def main(argv):
    model_path, inputs_path, rows, features, outputs_path = argv[1], argv[2], int(argv[3]), int(argv[4]), argv[5]
    onnx.checker.check_model(onnx.load(model_path), full_check=True)
    samples = np.fromfile(inputs_path, dtype="<f4").reshape(rows, features)
    net = cv2.dnn.readNetFromONNX(model_path)
    net.setInput(samples)
    outputs = np.asarray(net.forward(), dtype="<f4")
    if outputs.shape[0] != rows:
        print(f"opencv gave {outputs.shape} for {rows} rows", file=sys.stderr)
        return 1
    outputs.reshape(rows, -1).tofile(outputs_path)
    print(f"onnx checker ok; opencv {cv2.__version__}: outputs {outputs.shape}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
