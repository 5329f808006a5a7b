"""The evaluation engine: video quality and lip-sync metrics with the exact definitions papers use.

Unlike the host side, this package needs numpy and scipy (the eval image has them).
"""
