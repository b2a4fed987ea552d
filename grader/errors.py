"""The one root of the grader's infrastructure failures, apart from what a handin does.

A handin's own failure (it raises, loops, prints garbage, forges frames) is a report with fewer
points. An InfrastructureError means the grader could not grade at all: no sandbox can confine the
code here, the launcher died before the student's code ran, the runtime is not built, the reference
failed. It is never the student's doing: the service retries the job and never counts it.
"""


class InfrastructureError(RuntimeError):
    """The grader could not grade this handin; not the student's fault."""
