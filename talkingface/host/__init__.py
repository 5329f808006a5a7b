"""The host side: Python's standard library only, so running a model needs python3 and docker, nothing else."""
