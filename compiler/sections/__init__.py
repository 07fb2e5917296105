"""The generating sections of fleet.yaml, one package each, all of one shape
(``protocol.Section``): services, metallb (``loadBalancers``), flux. The pipeline lists them."""
