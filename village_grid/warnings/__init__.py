"""Official warnings (CAP 1.2): received by the API, a polled feed or an upload, they
draft the sweeps of the villages in their area; a person sends the draft.
See docs/warnings.md."""
