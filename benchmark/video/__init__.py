"""Whole-video inference: stream a video through a trained model, write DeepLabCut-style
predictions and a labelled video, and measure temporal stability and end-to-end speed."""

from benchmark.video.compare import compare_videos
from benchmark.video.temporal import temporal_metrics
from benchmark.video.track import track_video

__all__ = ["compare_videos", "temporal_metrics", "track_video"]
