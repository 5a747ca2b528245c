"""Market data: the feed interface, file readers, replay, resampling and data-quality checks."""
