"""``spec.services``: multi-cluster Services (KEP-1645 and Azure fleet-networking) and
clusterset DNS: ``config`` reads the settings, ``rules`` merges exports and finds conflicts,
``dns`` renders CoreDNS, ``section`` ties them together."""
