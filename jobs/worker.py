"""The worker class the Procfile runs."""
from rq.worker import HerokuWorker

# Platforms kill a process about 30 s after SIGTERM; stopping the job ourselves before that records it as failed
# and lets its Retry put it back on the queue for another worker, instead of leaving it to heartbeat expiry.
SHUTDOWN_GRACE_SECONDS = 20


class GracefulWorker(HerokuWorker):
    """On SIGTERM the job in hand may run SHUTDOWN_GRACE_SECONDS more; if it is not done by then it is stopped
    (ShutDownImminentException in the job) and re-queued through its retries."""

    imminent_shutdown_delay = SHUTDOWN_GRACE_SECONDS
