"""Review tools that read run folders (design section 7): the report (tables, Pareto plots), the W&B report spec
(wandb_report.py), per-sample pictures (sample_figure.py, maps recomputed by maps.py) and the Weights & Biases logger
the harness instantiates from config."""
