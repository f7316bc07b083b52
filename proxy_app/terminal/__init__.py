"""The browser terminal page (xterm.js over the `/stream/session/<id>/pty` websocket)."""
