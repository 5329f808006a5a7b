"""Every weight file the images load, in one manifest: fetched once, verified ever after, never downloaded at run time.

``talkingface/weights_manifest.json`` lists each file: where it is published, its size and licence, its sha256 (or
where the check comes from) and where it goes in the weights folder, which the images mount read-only at
``/weights`` (torch hub, Hugging Face and TensorFlow caches included). Files whose sha256 is not published are
recorded in ``<weights>/weights.lock.json`` at their first download and checked against it from then on.

``python3 -m talkingface.weights fetch|verify|list`` (``make weights``, ``make verify-weights``).
"""
