"""The web studio: train, generate and chat in a browser, every job run by the host CLI through a persistent queue.

``python -m talkingface.web --help`` (or ``make web``) starts it on http://127.0.0.1:5001.
"""
