"""talkingface's own steps, each runnable as ``python -m talkingface.container.steps <name> ...``."""
