"""好差评 (#15): every application rated at the window or on the public page, bad reviews followed up by the
department within working days, overdue follow-ups alerted."""


class ReviewEndpoints:
    """Mixed into the approvals service (needs `platform`, `settings`, `public_access`)."""
