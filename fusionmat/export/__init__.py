"""`fusionmat export`: the Late Fusion network for phones (TFLite, Core ML, ONNX)."""
