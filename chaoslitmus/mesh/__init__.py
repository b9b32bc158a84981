"""Service-mesh retry policies: set, remove, read, and restore exactly.

Activities live in :mod:`chaoslitmus.mesh.actions` and
:mod:`chaoslitmus.mesh.probes`; one adapter module per mesh API
(``appmesh_v1beta1``, ``appmesh_v1beta2``, ``istio``, ``gateway_api``,
``linkerd``) does the pure translation, :mod:`chaoslitmus.mesh.cluster` all
the I/O (with :mod:`chaoslitmus.mesh.crd_fields` and
:mod:`chaoslitmus.mesh.advisories` for the checks around a write);
:mod:`chaoslitmus.mesh.equivalence` compares meshes.
"""
