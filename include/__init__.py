"""KCM retention pipeline: the domain library the DAGs call."""
