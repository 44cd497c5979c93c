// Akis chat widget. Two ways to use it:
//
// 1. Embedded on any site with a publishable key (the flow editor's Publish dialog gives the snippet):
//      <script src="https://akis.example/widget/widget.js" data-akis-key="akispub_..."
//              data-akis-flow="pallet-assistant" data-akis-title="Ask us" async></script>
//    It adds a chat button and panel to the page and calls POST /api/widget/flows/<flow>/runs, which
//    streams the answer as Server-Sent Events (read with fetch(), the key in the Authorization header).
// 2. The example page /widget (widget.html): an API token or a publishable key typed in its fields.
//    With an API token it follows the conversation's channel (resuming with Last-Event-ID).
// Either way it offers thumbs up/down feedback under each answer.
//
// A visitor never sees a raw error: every failure is put in plain words (friendly()).
(function () {
  "use strict";
  const script = document.currentScript;
  const embedded = !!(script && script.dataset.akisKey);
  const base = embedded ? new URL(script.src, location.href).origin : "";
  const PUBLISHABLE = "akispub_";

  const CSS = `
#akis-launcher { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000; border: 0; border-radius: 24px;
  background: #4f46e5; color: #fff; padding: 12px 18px; font: 600 15px system-ui, sans-serif; cursor: pointer;
  box-shadow: 0 4px 16px #0003; }
#akis-chat.akis-embedded { position: fixed; right: 20px; bottom: 76px; z-index: 2147483000; width: 360px;
  max-width: calc(100vw - 40px); height: 520px; max-height: calc(100vh - 100px); background: #fff; color: #0f172a;
  border-radius: 12px; box-shadow: 0 8px 32px #0003; display: flex; flex-direction: column;
  font: 14px system-ui, sans-serif; overflow: hidden; }
#akis-chat.akis-embedded[hidden] { display: none; }
#akis-chat .akis-title { background: #4f46e5; color: #fff; padding: 10px 14px; font-weight: 600; }
#akis-chat #akis-messages { flex: 1; overflow-y: auto; padding: 12px; }
#akis-chat .msg { margin: 6px 0; padding: 8px 11px; border-radius: 8px; white-space: pre-wrap; max-width: 85%; }
#akis-chat .user { background: #4f46e5; color: #fff; margin-left: auto; }
#akis-chat .assistant { background: #eef1f4; }
#akis-chat .notice { background: #fff7ed; color: #9a3412; border: 1px solid #fed7aa; max-width: 100%; }
#akis-chat #akis-form { display: flex; border-top: 1px solid #e2e8f0; margin: 0; }
#akis-chat #akis-input { flex: 1; border: 0; padding: 12px; font-size: 15px; outline: none; }
#akis-chat #akis-form button { border: 0; background: #4f46e5; color: #fff; padding: 0 18px; cursor: pointer; }
#akis-chat #akis-status { font-size: 12px; color: #64748b; padding: 3px 12px; min-height: 1em; }
#akis-chat .feedback { display: flex; gap: 4px; align-items: center; margin: -2px 0 8px; font-size: 12px; }
#akis-chat .feedback .thumb { border: 1px solid #d6dbe0; background: #fff; border-radius: 12px; cursor: pointer; }
#akis-chat .feedback .thumb.chosen { background: #e0e7ff; border-color: #4f46e5; }
#akis-chat .feedback input { flex: 1; min-width: 0; padding: 3px 6px; font-size: 12px; }`;

  // The embedded widget's own elements, unless the page already has them (widget.html does).
  function build() {
    const style = document.createElement("style");
    style.textContent = CSS;
    document.head.appendChild(style);
    const launcher = document.createElement("button");
    launcher.id = "akis-launcher";
    launcher.type = "button";
    launcher.textContent = script.dataset.akisTitle || "Chat";
    const chat = document.createElement("div");
    chat.id = "akis-chat";
    chat.className = "akis-embedded";
    chat.hidden = true;
    chat.setAttribute("role", "dialog");
    chat.setAttribute("aria-label", script.dataset.akisTitle || "Chat");
    const title = document.createElement("div");
    title.className = "akis-title";
    title.textContent = script.dataset.akisTitle || "Chat";
    const list = document.createElement("div");
    list.id = "akis-messages";
    list.setAttribute("aria-live", "polite");
    const line = document.createElement("div");
    line.id = "akis-status";
    const form = document.createElement("form");
    form.id = "akis-form";
    const input = document.createElement("input");
    input.id = "akis-input";
    input.placeholder = script.dataset.akisPlaceholder || "Type a message...";
    input.autocomplete = "off";
    input.maxLength = 4000;
    const send = document.createElement("button");
    send.type = "submit";
    send.textContent = "Send";
    form.append(input, send);
    chat.append(title, list, line, form);
    launcher.addEventListener("click", () => {
      chat.hidden = !chat.hidden;
      if (!chat.hidden) input.focus();
    });
    document.body.append(chat, launcher);
  }

  function start() {
    if (embedded && !document.getElementById("akis-chat")) build();
    const $ = (id) => document.getElementById(id);
    const field = (id, fallback) => ($(id) ? $(id).value.trim() : fallback);
    const messages = $("akis-messages");
    const status = $("akis-status");
    let lastId = null;
    let channel = null;
    let abort = null;
    const bubbles = {}; // run_id -> element the chunks of that run are appended to

    // widget.html may be opened with ?flow=... and #key=... (the Publish dialog's "Try it" link;
    // the key stays in the fragment, which is never sent to a server).
    if ($("akis-token")) {
      const query = new URLSearchParams(location.search);
      const fragment = new URLSearchParams(location.hash.slice(1));
      if (fragment.get("key")) $("akis-token").value = fragment.get("key");
      if (query.get("flow")) $("akis-flow").value = query.get("flow");
    }
    const credential = () => (embedded ? script.dataset.akisKey : field("akis-token", "")).trim();
    const flowId = () => (embedded ? script.dataset.akisFlow || "" : field("akis-flow", "")).trim();
    const publishable = () => credential().startsWith(PUBLISHABLE);
    const sessionId = (() => {
      const remembered = "akis-session:" + flowId();
      let value = field("akis-session", "");
      if (!value) {
        try { value = sessionStorage.getItem(remembered) || ""; } catch (err) { value = ""; }
      }
      if (!value) value = "web-" + Math.random().toString(36).slice(2, 12);
      try { sessionStorage.setItem(remembered, value); } catch (err) { /* storage off: one session a page */ }
      if ($("akis-session")) $("akis-session").value = value;
      return () => field("akis-session", value);
    })();
    const headers = (extra) => Object.assign({ Authorization: "Bearer " + credential() }, extra || {});

    function bubble(kind, text) {
      const div = document.createElement("div");
      div.className = "msg " + kind;
      div.textContent = text;
      messages.appendChild(div);
      messages.scrollTop = messages.scrollHeight;
      return div;
    }

    // What a visitor reads when something fails: never a status code or a server's detail.
    const WORDS = {
      key_revoked: "This chat is not available right now (the key was revoked).",
      key_invalid: "This chat is not available right now (its key is not valid).",
      wrong_flow: "This chat is not set up correctly (its key belongs to another chat).",
      origin_not_allowed: "This chat is not enabled on this website.",
      flow_unavailable: "This chat is not available right now.",
      run_not_found: "This answer can no longer be rated.",
    };
    function friendly(status, code, retryAfter) {
      const wait = retryAfter ? " Please wait " + retryAfter + " s and try again." : " Please try again in a moment.";
      if (code && WORDS[code]) return WORDS[code];
      if (code === "rate_limited" || (status === 429 && publishable())) {
        return "You are sending messages too quickly." + wait;
      }
      if (status === 429) return "The chat is busy right now." + wait;
      if (status === 401) return "This chat is not available right now (its access was not accepted).";
      if (status === 403) return "This chat is not allowed from this page.";
      if (status === 404) return "This chat is not available right now.";
      if (status === 0) return "Can't reach the chat service. Check your connection and try again.";
      return "Something went wrong on our side." + wait;
    }
    async function refusal(response) {
      let code = null;
      try { code = (await response.json()).code || null; } catch (err) { code = null; }
      return friendly(response.status, code, response.headers.get("Retry-After"));
    }
    function notice(text) {
      const div = bubble("notice", text);
      div.setAttribute("role", "alert");
      status.textContent = "";
      return div;
    }

    // An answer that cites (ai_response with citations): its numbered sources under the bubble,
    // each opening to the passage. Text only (textContent): a document can never inject markup.
    function sources(target, cited) {
      const list = document.createElement("div");
      list.className = "sources";
      for (const c of cited) {
        if (!c || typeof c.text !== "string") continue;
        const item = document.createElement("details");
        item.id = "akis-source-" + c.n;
        const summary = document.createElement("summary");
        const part = Number.isInteger(c.position) ? " · part " + (c.position + 1) : "";
        summary.textContent = "[" + c.n + "] " + (c.document || "source") + part;
        const passage = document.createElement("div");
        passage.className = "passage";
        passage.textContent = c.text;
        item.append(summary, passage);
        list.appendChild(item);
      }
      target.appendChild(list);
      messages.scrollTop = messages.scrollHeight;
    }

    // Thumbs up or down under an answer (A/B tests count them per variant), then an optional comment.
    // A publishable key rates through the widget's own route, a run of this visitor's session only.
    async function sendFeedback(runId, rating, comment) {
      const body = { rating: rating, comment: comment || null };
      let path = "/api/runs/" + encodeURIComponent(runId) + "/feedback";
      if (publishable()) {
        path = "/api/widget/flows/" + encodeURIComponent(flowId()) + path.slice(4);
        body.session_id = sessionId();
      }
      let response;
      try {
        response = await fetch(base + path, {
          method: "POST", headers: headers({ "Content-Type": "application/json" }), body: JSON.stringify(body),
        });
      } catch (err) {
        status.textContent = friendly(0);
        return false;
      }
      status.textContent = response.ok ? "thanks for the feedback" : await refusal(response);
      return response.ok;
    }

    function feedbackBar(runId) {
      const bar = document.createElement("div");
      bar.className = "feedback";
      bar.dataset.runId = runId;
      const note = document.createElement("input");
      note.placeholder = "What could be better? (optional)";
      note.maxLength = 2000;
      note.hidden = true;
      const send = document.createElement("button");
      send.type = "button";
      send.textContent = "Send";
      send.hidden = true;
      let given = null;
      for (const [rating, label, text] of [["up", "Helpful", "\u{1F44D}"], ["down", "Not helpful", "\u{1F44E}"]]) {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "thumb";
        button.dataset.rating = rating;
        button.title = label;
        button.setAttribute("aria-label", label);
        button.textContent = text;
        button.addEventListener("click", async () => {
          if (!(await sendFeedback(runId, rating, note.value.trim()))) return;
          given = rating;
          for (const other of bar.querySelectorAll(".thumb")) other.classList.toggle("chosen", other === button);
          note.hidden = send.hidden = false;
        });
        bar.appendChild(button);
      }
      send.addEventListener("click", async () => {
        if (given && note.value.trim() && (await sendFeedback(runId, given, note.value.trim()))) {
          note.disabled = send.disabled = true;
        }
      });
      bar.append(note, send);
      messages.appendChild(bar);
      messages.scrollTop = messages.scrollHeight;
    }

    function handle(name, data) {
      if (name === "message.chunk") {
        const target = bubbles[data.run_id] || (bubbles[data.run_id] = bubble("assistant", ""));
        target.textContent += data.text;
        messages.scrollTop = messages.scrollHeight;
      } else if (name === "run.finished") {
        status.textContent = "answered in " + Math.round(data.duration_ms || 0) + " ms";
        if (data.status === "succeeded") feedbackBar(data.run_id);
        if (data.status === "cancelled") notice("The answer was stopped before it finished.");
        else if (data.status !== "succeeded") notice("Sorry, something went wrong while answering. Please try again.");
        const cited = data.output && data.output.citations;
        if (Array.isArray(cited) && cited.length) sources(bubbles[data.run_id] || bubble("assistant", ""), cited);
      } else if (name === "error") {
        status.textContent = "The live answer was interrupted; it may still arrive.";
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

    // API token: follow the channel in the background; the returned promise settles once the
    // stream is open, so a run started after it cannot publish before the widget listens.
    function subscribe() {
      const wanted = "tenant." + field("akis-tenant", "") + ".conversation." + sessionId();
      if (wanted === channel && abort) return Promise.resolve(true);
      if (abort) abort.abort();
      channel = wanted;
      lastId = null;
      abort = new AbortController();
      const signal = abort.signal;
      return new Promise((connected) => {
        let opened = false;
        (async () => {
          for (let attempt = 0; !signal.aborted; attempt++) {
            try {
              const extra = lastId !== null ? { "Last-Event-ID": lastId } : {};
              const response = await fetch(base + "/api/channels/" + encodeURIComponent(channel) + "/events",
                                           { headers: headers(extra), signal });
              if (!response.ok) {
                notice(await refusal(response));
                abort = null;
                connected(false);
                return;
              }
              status.textContent = "connected";
              attempt = 0;
              opened = true;
              connected(true);
              await readEvents(response);
            } catch (err) {
              if (signal.aborted) return;
              if (!opened) { // never connected: say so, and do not send
                notice(friendly(0));
                abort = null;
                connected(false);
                return;
              }
              status.textContent = "reconnecting...";
            }
            await new Promise((r) => setTimeout(r, Math.min(5000, 250 * 2 ** attempt)));
          }
        })();
      });
    }

    // W3C trace context: each message starts a trace (sampled) that its run joins, so a tracing
    // backend shows the run under the page's request (docs/observability.md).
    function traceparent() {
      const hex = (n) => Array.from(crypto.getRandomValues(new Uint8Array(n)),
                                    (b) => b.toString(16).padStart(2, "0")).join("");
      return "00-" + hex(16) + "-" + hex(8) + "-01";
    }

    // Publishable key: one request that streams its own answer.
    async function askWithKey(text, parent) {
      const flow = encodeURIComponent(flowId());
      status.textContent = "…";
      let response;
      try {
        response = await fetch(base + "/api/widget/flows/" + flow + "/runs", {
          method: "POST",
          headers: headers({ "Content-Type": "application/json", Accept: "text/event-stream", traceparent: parent }),
          body: JSON.stringify({ message: text, session_id: sessionId() }),
        });
      } catch (err) {
        notice(friendly(0));
        return;
      }
      if (!response.ok) {
        notice(await refusal(response));
        return;
      }
      try {
        await readEvents(response);
      } catch (err) {
        notice(friendly(0));
      }
    }

    async function askWithToken(text, parent) {
      if (!(await subscribe())) return;
      const flow = encodeURIComponent(flowId());
      let response;
      try {
        response = await fetch(base + "/api/flows/" + flow + "/runs", {
          method: "POST",
          headers: headers({ "Content-Type": "application/json", traceparent: parent }),
          body: JSON.stringify({ inputs: { user_message: text }, session_id: sessionId() }),
        });
      } catch (err) {
        notice(friendly(0));
        return;
      }
      if (!response.ok) notice(await refusal(response));
    }

    $("akis-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const text = $("akis-input").value.trim();
      if (!text) return;
      $("akis-input").value = "";
      const parent = traceparent();
      bubble("user", text).dataset.traceId = parent.split("-")[1];
      if (!credential() || !flowId()) {
        notice("This chat is not set up yet (it needs a key and a flow).");
        return;
      }
      await (publishable() ? askWithKey(text, parent) : askWithToken(text, parent));
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
