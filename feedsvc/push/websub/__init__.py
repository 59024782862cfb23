"""WebSub: feedsvc as its own hub (POST /websub) and as a publisher that pings external hubs.

The integration builds one Hub per service, starts and stops it with the app, routes POST /websub
to Hub.handle (when settings.websub), calls Hub.publish after each published change, and sends
Hub.links(self_url) as the Link header of every feed response. See docs/websub.md.
"""

from feedsvc.push.websub.guard import Guard, GuardedResolver, Refused
from feedsvc.push.websub.hub import Hub, Resolver
from feedsvc.push.websub.limits import Limits
from feedsvc.push.websub.links import PATH, hub_url, hubs, json_hubs, link_header
from feedsvc.push.websub.model import Change, Mode, Outcome, Subscription, Verified
from feedsvc.push.websub.ping import Pinger

__all__ = ["PATH", "Change", "Guard", "GuardedResolver", "Hub", "Limits", "Mode", "Outcome", "Pinger", "Refused",
           "Resolver", "Subscription", "Verified", "hub_url", "hubs", "json_hubs", "link_header"]
