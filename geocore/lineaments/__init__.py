"""Magnetic lineaments: training, detection, vector axes and metrics."""
