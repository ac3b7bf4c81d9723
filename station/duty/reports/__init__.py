"""Reports: statistics for the managers' dashboard, the false-alarm export, retention."""
