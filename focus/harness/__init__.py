"""The harness that runs a method over a dataset (design sections 1, 2, 7): config checks, the run folder and its
records, the sample loop, the console. It builds methods from config and never imports the review tools."""
