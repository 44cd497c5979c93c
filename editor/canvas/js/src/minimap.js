// The overview map: one SVG with a rect per node, instead of a component per node (Vue Flow's
// MiniMap re-renders 300 child components on every change and cost ~0.3 s at start-up).
// Click or drag in it to move the view there; the wheel zooms.
// A plain option object with a string template, like the node card (see nodes.js).
import { Panel } from "@vue-flow/core";
import { NODE_W, NODE_H, FIT } from "./shared.js";

const MINI_W = 200;
const MINI_H = 140;
export const AkisMiniMap = {
  components: { Panel },
  props: ["flow", "tick"],
  computed: {
    rects() {
      if (!this.tick) return [];
      return this.flow.getNodes.value.map((n) => ({
        id: n.id,
        x: n.position.x,
        y: n.position.y,
        w: n.dimensions.width || NODE_W,
        h: n.dimensions.height || NODE_H,
        color: (n.data && n.data.color) || "#64748b",
        selected: n.selected,
      }));
    },
    view() {
      if (!this.tick) return { x: 0, y: 0, w: 1, h: 1 };
      const vp = this.flow.viewport.value;
      const dims = this.flow.dimensions.value;
      return { x: -vp.x / vp.zoom, y: -vp.y / vp.zoom, w: dims.width / vp.zoom, h: dims.height / vp.zoom };
    },
    box() {
      const v = this.view;
      let x0 = v.x, y0 = v.y, x1 = v.x + v.w, y1 = v.y + v.h;
      for (const r of this.rects) {
        x0 = Math.min(x0, r.x);
        y0 = Math.min(y0, r.y);
        x1 = Math.max(x1, r.x + r.w);
        y1 = Math.max(y1, r.y + r.h);
      }
      const scale = Math.max((x1 - x0) / MINI_W, (y1 - y0) / MINI_H);
      const w = scale * MINI_W, h = scale * MINI_H, pad = 5 * scale;
      return { x: x0 - (w - (x1 - x0)) / 2 - pad, y: y0 - (h - (y1 - y0)) / 2 - pad, w: w + 2 * pad, h: h + 2 * pad, scale };
    },
    mask() {
      const b = this.box, v = this.view;
      return `M${b.x},${b.y}h${b.w}v${b.h}h${-b.w}z M${v.x},${v.y}h${v.w}v${v.h}h${-v.w}z`;
    },
  },
  methods: {
    toFlow(e) {
      const r = this.$refs.svg.getBoundingClientRect();
      return { x: this.box.x + ((e.clientX - r.left) / r.width) * this.box.w, y: this.box.y + ((e.clientY - r.top) / r.height) * this.box.h };
    },
    moveTo(e) {
      const p = this.toFlow(e);
      this.flow.setCenter(p.x, p.y, { zoom: this.flow.viewport.value.zoom });
    },
    onDown(e) {
      this.dragging = true;
      this.$refs.svg.setPointerCapture(e.pointerId);
      this.moveTo(e);
    },
    onMove(e) {
      if (this.dragging) this.moveTo(e);
    },
    onUp() {
      this.dragging = false;
    },
    onWheel(e) {
      const zoom = this.flow.viewport.value.zoom * (e.deltaY < 0 ? 1.15 : 1 / 1.15);
      this.flow.zoomTo(Math.min(FIT.maxZoom * 2, Math.max(FIT.minZoom, zoom)));
    },
  },
  template: `
    <Panel position="bottom-right" class="akis-minimap">
      <svg ref="svg" :width="${MINI_W}" :height="${MINI_H}" :viewBox="[box.x, box.y, box.w, box.h].join(' ')"
           @pointerdown.prevent="onDown" @pointermove="onMove" @pointerup="onUp" @wheel.prevent="onWheel">
        <rect v-for="r in rects" :key="r.id" :x="r.x" :y="r.y" :width="r.w" :height="r.h" :rx="2 * box.scale"
              :fill="r.color" :class="{'akis-minimap__selected': r.selected}" />
        <path class="akis-minimap__mask" :d="mask" fill-rule="evenodd" />
        <rect class="akis-minimap__view" :x="view.x" :y="view.y" :width="view.w" :height="view.h"
              :stroke-width="1.5 * box.scale" />
      </svg>
    </Panel>`,
};
