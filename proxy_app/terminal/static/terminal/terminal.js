// Browser terminal: xterm.js <-> /stream/session/<id>/pty (JSON messages, base64 payloads).
(function () {
  "use strict";
  const el = document.getElementById("terminal");
  const status = document.getElementById("status");
  const term = new Terminal({ cursorBlink: true, convertEol: false, scrollback: 5000 });
  const fit = new FitAddon.FitAddon();
  term.loadAddon(fit);
  term.open(el);
  fit.fit();
  window.baiTerminal = term;

  const encoder = new TextEncoder();
  const toBase64 = (bytes) => {
    let bin = "";
    for (let i = 0; i < bytes.length; i += 0x8000) {
      bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return btoa(bin);
  };
  const fromBase64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(scheme + "//" + location.host + el.dataset.streamPath);
  const send = (message) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
  };
  const resize = () => send({ type: "resize", rows: term.rows, cols: term.cols });

  ws.onopen = () => {
    status.textContent = "connected";
    document.body.dataset.state = "connected";
    resize();
    term.focus();
  };
  ws.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "out" && message.data) term.write(fromBase64(message.data));
  };
  ws.onclose = (event) => {
    status.textContent = "disconnected (" + event.code + ")";
    document.body.dataset.state = "closed";
  };
  term.onData((data) => send({ type: "stdin", chars: toBase64(encoder.encode(data)) }));
  term.onBinary((data) =>
    send({ type: "stdin", chars: btoa(data) })
  );
  term.onResize(resize);
  window.addEventListener("resize", () => fit.fit());
  setInterval(() => send({ type: "ping" }), 30000);
})();
