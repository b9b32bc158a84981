"""`chaoslitmus sweep`: faults x retry policies, and which policy to use.

Core code (no lab, no report): it runs the same activities an experiment
runs, one cell at a time, against the cluster of the current KUBECONFIG.
"""
