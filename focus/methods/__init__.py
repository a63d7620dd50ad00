"""The methods compared under one protocol, built from the stages on the same adapters: FOCUS (paper Sec. 3),
vanilla (whole image), ZoomEye and ViCrop (docs/baselines.md). Methods never import the harness."""
