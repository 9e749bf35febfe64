"""The operator's control loop: what makes a SpeechRecognizer's children and status converge.

The model (docs/architecture.md, "Operator"), one module per part:

- the process (runtime.py): log in, campaign for the Lease (leader.py), run kopf only while
  leading, start kopf again when it fails (a watch answered 410 at its start), stop it when
  leadership lapses; the client refuses writes while not leading;
- triggers: a SpeechRecognizer event (kopf's watch, handlers.py), the resync sweep every
  ASRFLEET_RESYNC_SECONDS (sweep.py, bounded concurrency), a managed Deployment's event (the
  operator's own list + watch, watch.py);
- change detection (changes.py): an event reconciles on first sight and when
  metadata.generation moved past status.observedGeneration, nothing else; the sweep reconciles
  everything (drift correction); a Deployment event only refreshes the status;
- one reconcile (reconcile.py): parse -> render -> converge each child (children.py: create,
  server-side apply only when a desired field differs, delete) -> compute the status, which it
  returns; the caller writes it with one merge-patch, only when it changed. The parent is read
  again before writing (ParentCheck): nothing is written for a parent gone or newer;
- retries (retry.py): transient API errors back off exponentially, jittered, at least as long
  as a Retry-After asks, and then leave the object to the next sweep; permanent ones are
  reported as condition Degraded plus a Warning Event;
- state (context.py): caches of the API only (seen uids, newest generation, absent children,
  warnings sent), dropped at each new leadership term, and the bound on concurrent reconciles.
"""

from asrfleet_operator.controller.context import Context
from asrfleet_operator.controller.handlers import register

__all__ = ["Context", "register"]
