"""The demo city (`xiaoneng demo`): a plausible year of appeals, approvals and assessment inputs, sent to the
real services through their HTTP APIs. `demo.generate` makes the requests (deterministic for a seed), `demo.runner`
sends them, `demo.cli` is the command. It talks to the services only over HTTP and imports none of them."""
