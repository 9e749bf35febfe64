"""The operator's control loop: what makes a SpeechRecognizer's children and status converge.

The model (docs/architecture.md, "Operator"), one module per part:

- triggers: a SpeechRecognizer event (kopf's watch, handlers.py), the resync sweep every
  ASRFLEET_RESYNC_SECONDS (sweep.py), a managed Deployment's event (the operator's own list +
  watch, watch.py);
- change detection (changes.py): an event reconciles on first sight and when
  metadata.generation moved past status.observedGeneration, nothing else; the sweep reconciles
  everything (drift correction); a Deployment event only refreshes the status;
- one reconcile (reconcile.py): parse -> render -> converge each child (children.py: create,
  server-side apply only when a desired field differs, delete) -> compute the status, which it
  returns; the caller writes it with one merge-patch, only when it changed;
- retries (retry.py): transient API errors back off exponentially and then leave the object
  to the next sweep; permanent ones are reported as condition Degraded plus a Warning Event;
- state (context.py): caches of the API only (seen uids, newest generation, absent children,
  warnings sent), so a restart loses nothing.

Fault tolerance builds on these seams: the sweep's per-object `correct_drift` is the unit a
bounded-concurrency sweep runs in parallel; `reconcile` reads nothing it was not given before
converging the children, where a re-read of the parent goes; `retry.retry_delay` is where a
Retry-After header is honoured; the background tasks in handlers.py are what a leader Lease
gates.
"""

from asrfleet_operator.controller.context import Context
from asrfleet_operator.controller.handlers import register

__all__ = ["Context", "register"]
