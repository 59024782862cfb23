"""Telling others of a change: the WebSub hub, and refreshing the nginx edge."""
