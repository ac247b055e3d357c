"""What every HTTP server of sleepcycle shares (the API, the web page, MCP, the proxy): API keys
and the gate that checks them (``auth``), the request's caller and mind (``deps``), and the ASGI
edge that guards hosts, origins and body sizes (``edge``). Below the servers: none imports them.
"""
