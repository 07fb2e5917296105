"""``spec.loadBalancers`` and each cluster's ``spec.metallb``: ``config`` reads them, ``ipam``
does address arithmetic, ``allocate`` assigns addresses (fleet.lock ``addresses``), ``rules``
checks MetalLB's webhook rules, ``section`` renders the objects."""
