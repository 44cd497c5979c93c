// Constants and helpers shared by the canvas component (flow_canvas.js) and its sub-components.
export const NODE_W = 232; // .akis-node width in canvas.css
export const NODE_H = 56; // a node without badges; only used to fit the view before nodes are measured
export const FIT = { padding: 0.12, minZoom: 0.1, maxZoom: 1 };
export const DATA_DEFAULTS = {
  category: "other",
  icon: "widgets",
  color: "#64748b",
  badges: [],
  status: null,
  duration_ms: null,
  error: null,
  problems: [],
  branches: [],
  has_input: true,
  has_output: true,
};

export function edgeId(source, target, sourceHandle) {
  return `${source}->${target}` + (sourceHandle ? `#${sourceHandle}` : "");
}

export function formatMs(ms) {
  if (ms === null || ms === undefined) return "";
  return ms >= 1000 ? `${(ms / 1000).toFixed(ms >= 10000 ? 0 : 1)} s` : `${Math.round(ms)} ms`;
}

export function isTyping(target) {
  if (!target || !target.closest) return false;
  return !!target.closest("input, textarea, select, [contenteditable=''], [contenteditable='true'], .cm-editor");
}

