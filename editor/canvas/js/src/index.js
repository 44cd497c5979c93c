// Entry of the Akis canvas bundle: Vue Flow with its background and controls, and the canvas's own
// sub-components (node card, problem edge, sticky note, and the minimap: one SVG instead of Vue Flow's
// component per node) with the constants they share with flow_canvas.js. `vue` is left external so
// the bundle shares NiceGUI's own Vue. esbuild writes the imported CSS next to it as index.css.
import "@vue-flow/core/dist/style.css";
import "@vue-flow/core/dist/theme-default.css";
import "@vue-flow/controls/dist/style.css";
import "./canvas.css";

export {
  VueFlow,
  Handle,
  Position,
  MarkerType,
  ConnectionMode,
  BaseEdge,
  EdgeLabelRenderer,
  getBezierPath,
  getTransformForBounds,
  Panel,
} from "@vue-flow/core";
export { Background } from "@vue-flow/background";
export { Controls } from "@vue-flow/controls";
export { AkisNode, ProblemEdge } from "./nodes.js";
export { AkisMiniMap } from "./minimap.js";
export { AkisNote } from "./notes.js";
export { NODE_W, NODE_H, FIT, DATA_DEFAULTS, edgeId, formatMs, isTyping } from "./shared.js";
