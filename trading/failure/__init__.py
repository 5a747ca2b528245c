"""Surviving failure: step checkpoints, journal batches written exactly once, the error
taxonomy with its recovery policies, the watchdog's detectors and the execution fence."""
