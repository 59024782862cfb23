"""Content distribution (WebSub §7): one POST of a topic's content to one subscriber."""

from __future__ import annotations

import hashlib
import hmac

import aiohttp
from yarl import URL

from feedsvc.push.websub.guard import refused
from feedsvc.push.websub.limits import Limits
from feedsvc.push.websub.model import DeliveryJob, DeliveryOutcome


def signature(secret: str, body: bytes) -> str:
    """The X-Hub-Signature value: sha256=hex(HMAC-SHA256(secret, body))."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def headers(job: DeliveryJob, body: bytes, hub_url: str) -> dict[str, str]:
    """The topic's exact Content-Type, the hub and self links, and a signature when there is a secret."""
    found = {"Content-Type": job.content_type,
             "Link": f'<{hub_url}>; rel="hub", <{job.subscription.topic}>; rel="self"'}
    if job.subscription.secret:
        found["X-Hub-Signature"] = signature(job.subscription.secret, body)
    return found


async def deliver(session: aiohttp.ClientSession, job: DeliveryJob, body: bytes, hub_url: str,
                  limits: Limits) -> DeliveryOutcome:
    """POST the content; only the status is looked at (the response body is never read)."""
    url = URL(job.subscription.callback.split("#", 1)[0], encoded=True)
    try:
        async with session.post(url, data=body, headers=headers(job, body, hub_url), allow_redirects=False,
                                timeout=aiohttp.ClientTimeout(total=limits.delivery_timeout)) as response:
            status = response.status
    except TimeoutError:
        return DeliveryOutcome.TIMEOUT
    except (aiohttp.ClientError, OSError) as exc:
        return DeliveryOutcome.REFUSED if refused(exc) else DeliveryOutcome.UNREACHABLE
    if 200 <= status < 300:
        return DeliveryOutcome.DELIVERED
    if status == 410:
        return DeliveryOutcome.GONE
    if 300 <= status < 400:
        return DeliveryOutcome.REDIRECTED
    return DeliveryOutcome.FAILED
