// Entry of the Akis canvas bundle: Vue Flow with its background and controls (the minimap is our
// own, in flow_canvas.js: one SVG instead of a component per node), with `vue` left external so the
// bundle shares NiceGUI's own Vue. esbuild writes the imported CSS next to it as index.css.
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
