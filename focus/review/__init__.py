"""Review tools that read run folders (design section 7): the report (tables, Pareto plots), per-sample pictures
and the Weights & Biases logger the harness instantiates from config."""
