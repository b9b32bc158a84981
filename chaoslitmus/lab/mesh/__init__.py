"""The mesh and data plane: an Envoy-like proxy programmed from mesh objects."""
