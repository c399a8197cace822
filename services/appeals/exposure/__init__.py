"""The exposure board (曝光台, seed III.2, #15), no key: the cases the supervising office exposed, desensitised,
with the department's rectification once done."""


class ExposureEndpoints:
    """Mixed into the appeals service (needs `platform`, `settings`)."""
