// Akis example chat widget: subscribes to the conversation channel and appends chunks as they
// arrive, over Server-Sent Events read with fetch() so the token travels in the Authorization
// header, resuming with Last-Event-ID after a dropped connection.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const messages = $("akis-messages");
  const status = $("akis-status");
  let lastId = null;
  let channel = null;
  let abort = null;
  const bubbles = {}; // run_id -> element the chunks of that run are appended to

  if (!$("akis-session").value) {
    $("akis-session").value = "web-" + Math.random().toString(36).slice(2, 12);
  }
  const token = () => $("akis-token").value.trim();
  const headers = (extra) => Object.assign({ Authorization: "Bearer " + token() }, extra || {});

  function bubble(kind, text) {
    const div = document.createElement("div");
    div.className = "msg " + kind;
    div.textContent = text;
    messages.appendChild(div);
    messages.scrollTop = messages.scrollHeight;
    return div;
  }

  function handle(name, data) {
    if (name === "message.chunk") {
      const target = bubbles[data.run_id] || (bubbles[data.run_id] = bubble("assistant", ""));
      target.textContent += data.text;
      messages.scrollTop = messages.scrollHeight;
    } else if (name === "run.finished") {
      status.textContent = "answered in " + Math.round(data.duration_ms || 0) + " ms";
      if (data.status !== "succeeded") bubble("assistant", "(" + (data.error || data.status) + ")");
    } else if (name === "error") {
      status.textContent = data.detail;
    }
  }

  // Parse an SSE byte stream: blocks separated by a blank line, fields "id", "event", "data".
  async function readEvents(response) {
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let id = null, name = "message", data = "";
        for (const line of block.split("\n")) {
          if (line.startsWith("id: ")) id = line.slice(4);
          else if (line.startsWith("event: ")) name = line.slice(7);
          else if (line.startsWith("data: ")) data += line.slice(6);
        }
        if (!data) continue; // a keep-alive comment
        if (id !== null) lastId = id;
        handle(name, JSON.parse(data));
      }
    }
  }

  // Follow the channel in the background; the returned promise settles once the stream is open,
  // so a run started after it cannot publish before the widget listens.
  function subscribe() {
    const wanted = "tenant." + $("akis-tenant").value.trim() + ".conversation." + $("akis-session").value.trim();
    if (wanted === channel && abort) return Promise.resolve();
    if (abort) abort.abort();
    channel = wanted;
    lastId = null;
    abort = new AbortController();
    const signal = abort.signal;
    return new Promise((connected) => {
      (async () => {
        for (let attempt = 0; !signal.aborted; attempt++) {
          try {
            const extra = lastId !== null ? { "Last-Event-ID": lastId } : {};
            const response = await fetch("/api/channels/" + encodeURIComponent(channel) + "/events",
                                          { headers: headers(extra), signal });
            if (!response.ok) {
              status.textContent = "channel: " + response.status + " " + (await response.text());
              abort = null;
              connected();
              return;
            }
            status.textContent = "connected to " + channel;
            attempt = 0;
            connected();
            await readEvents(response);
          } catch (err) {
            if (signal.aborted) return;
            status.textContent = "reconnecting...";
          }
          await new Promise((r) => setTimeout(r, Math.min(5000, 250 * 2 ** attempt)));
        }
      })();
    });
  }

  $("akis-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = $("akis-input").value.trim();
    if (!text) return;
    $("akis-input").value = "";
    bubble("user", text);
    await subscribe();
    const flow = encodeURIComponent($("akis-flow").value.trim());
    const response = await fetch("/api/flows/" + flow + "/runs", {
      method: "POST",
      headers: headers({ "Content-Type": "application/json" }),
      body: JSON.stringify({ inputs: { user_message: text }, session_id: $("akis-session").value.trim() }),
    });
    if (!response.ok) status.textContent = "run: " + response.status + " " + (await response.text());
  });
})();
