"""``--backend slurm``: verbs as sbatch jobs (train as an afterok chain, a video list as one array), status, cancel."""
