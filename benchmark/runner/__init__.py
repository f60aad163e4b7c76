"""The runner: jobs in worker subprocesses, resumable run directories."""
