"""`feedsvc serve` with the hub's per-callback-host caps lifted, for the websub section only.

Every subscriber of the benchmark sits on one host (127.0.0.1, one port, a path each), while the hub
bounds what one callback host may hold: 200 subscriptions, 20 pending verifications, 2 deliveries in
flight. To measure what 1,000 subscribers *on their own hosts* see, this launcher starts the real
service with those three per-host numbers raised to the global ones (128 deliveries in flight in all,
as in production) and nothing else changed:

    python bench/hubserve.py FEEDSVC_SCRIPT serve --seeds ... (the usual arguments)
"""

from __future__ import annotations

import functools
import sys

import feedsvc.push.websub.hub as hub
from feedsvc.push.websub.limits import Limits

_SHIPPED = Limits()
DISTINCT_HOSTS = {"subscriptions_per_host": _SHIPPED.subscriptions_max, "intents_per_host": _SHIPPED.intents_max,
                  "per_host": _SHIPPED.concurrency}

if __name__ == "__main__":
    hub.Limits = functools.partial(Limits, **DISTINCT_HOSTS)  # type: ignore[misc]
    from feedsvc.cli.main import main

    sys.exit(main(sys.argv[2:]))
