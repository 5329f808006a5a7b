"""talkingface: containers, host scripts and entrypoints for audio-driven talking-head models."""

__version__ = "0.1.0"
