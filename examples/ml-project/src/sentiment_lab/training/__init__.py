"""The training job."""
