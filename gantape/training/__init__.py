"""Run tooling: the training loop and what it writes into a workdir."""
