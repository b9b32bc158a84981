"""The Kubernetes API emulator: apiserver, object store, CRD schemas, watches."""
