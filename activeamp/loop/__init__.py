"""Loop: acquisition, the Ray oracle pool and trainer, the active loop, Ray Train and Tune."""
