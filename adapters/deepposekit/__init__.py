"""DeepPoseKit adapter; DeepPoseKit runs in its own environment (see ``requirements.in``)."""
