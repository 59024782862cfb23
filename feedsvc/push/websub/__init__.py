"""WebSub: feedsvc as its own hub (POST /websub) and as a publisher that pings external hubs.

The service builds one Hub, starts and stops it with the app, routes POST /websub to Hub.handle
(when settings.websub) and calls Hub.publish with the feeds each publication changed. The publisher puts
links.link_header (the hubs and the feed's self URL) into the headers of the nine feeds' default
pages. See docs/websub.md.
"""

from feedsvc.push.websub.guard import Guard, GuardedResolver, Refused
from feedsvc.push.websub.hub import Hub, Resolver
from feedsvc.push.websub.limits import Limits
from feedsvc.push.websub.links import PATH, hub_url, hubs, json_hubs, link_header
from feedsvc.push.websub.model import DeliveryJob, DeliveryOutcome, FeedChange, Mode, Subscription, Verified
from feedsvc.push.websub.ping import Pinger

__all__ = ["PATH", "DeliveryJob", "DeliveryOutcome", "FeedChange", "Guard", "GuardedResolver", "Hub",
           "Limits", "Mode", "Pinger", "Refused", "Resolver", "Subscription", "Verified", "hub_url", "hubs",
           "json_hubs", "link_header"]
