"""The Signal adapter: the only package that imports signalbot.

signalbot does the HTTP/WebSocket client and the envelope models well; the relay owns what it does
not: a receive loop that survives malformed frames and clean closes, in-order handling, sends with
timeouts whose failures keep their reason, and logs that carry no message content.
"""
