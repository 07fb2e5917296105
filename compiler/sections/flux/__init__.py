"""``spec.flux``: the Flux sync objects per cluster and a Kustomization per bundle."""
