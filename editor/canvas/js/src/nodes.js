// The node card (AkisNode, node type "akis") and the edge with problems (ProblemEdge, edge type
// "akis-problem") that the canvas hands Vue Flow. Plain option objects with string templates:
// NiceGUI's Vue (the bundle leaves `vue` external) compiles them at run time.
import { Handle, BaseEdge, EdgeLabelRenderer, getBezierPath } from "@vue-flow/core";
import { DATA_DEFAULTS, formatMs } from "./shared.js";

const BADGE_ICONS = { cached: "bolt", background: "schedule", group: "call_split", join: "merge" };

export const AkisNode = {
  components: { Handle },
  inheritAttrs: false,
  props: ["id", "data", "selected"],
  computed: {
    d() {
      return { ...DATA_DEFAULTS, ...this.data };
    },
    classes() {
      const d = this.d;
      return [
        `akis-cat-${d.category}`,
        d.status ? `akis-status-${d.status}` : "",
        d.problems.length ? "akis-has-problems" : "",
      ];
    },
    badges() {
      return this.d.badges.map((b) => {
        const [kind, ...rest] = String(b).split(":");
        return { kind, icon: BADGE_ICONS[kind] || "", text: rest.length ? rest.join(":") : kind };
      });
    },
    statusText() {
      const d = this.d;
      switch (d.status) {
        case "running":
          return "running…";
        case "done":
          return formatMs(d.duration_ms) || "done";
        case "cached":
          return "cached" + (d.duration_ms !== null ? ` · ${formatMs(d.duration_ms)}` : "");
        case "failed":
          return "failed";
        case "continued":
          return "failed, continued";
        case "skipped":
          return "skipped";
        case "waiting":
          return "waiting";
        default:
          return "";
      }
    },
    statusIcon() {
      return { running: "sync", done: "check", cached: "bolt", failed: "error", continued: "redo", skipped: "block", waiting: "schedule" }[
        this.d.status
      ];
    },
  },
  template: `
    <div :class="classes" :data-status="d.status || ''" :data-node-id="id">
      <div class="akis-node" :style="{'--akis-cat': d.color}" :title="(d.status === 'failed' || d.status === 'continued') && d.error ? d.error : null">
        <Handle v-if="d.has_input" type="target" position="left" />
        <div class="akis-node__main">
          <i class="material-icons akis-node__icon">{{ d.icon }}</i>
          <div class="akis-node__text">
            <div class="akis-node__label" :title="d.label">{{ d.label }}</div>
            <div class="akis-node__type">{{ d.node_type }}</div>
          </div>
          <span v-if="d.problems.length" class="akis-node__problem" data-testid="node-problem"
                :title="d.problems.join('\\n')">{{ d.problems.length > 1 ? d.problems.length : '!' }}</span>
        </div>
        <div v-if="badges.length || statusText" class="akis-node__footer">
          <span v-for="b in badges" :key="b.kind + b.text" class="akis-badge" :class="'akis-badge--' + b.kind">
            <i v-if="b.icon" class="material-icons">{{ b.icon }}</i>{{ b.text }}
          </span>
          <span v-if="statusText" class="akis-status-chip" :title="d.status === 'failed' || d.status === 'continued' ? d.error : null">
            <i class="material-icons">{{ statusIcon }}</i>{{ statusText }}
          </span>
        </div>
        <div v-if="d.branches.length" class="akis-node__branches">
          <div v-for="b in d.branches" :key="b" class="akis-branch">{{ b }}
            <Handle type="source" position="right" :id="b" />
          </div>
        </div>
        <Handle v-else-if="d.has_output" type="source" position="right" />
      </div>
    </div>`,
};

export const ProblemEdge = {
  components: { BaseEdge, EdgeLabelRenderer },
  inheritAttrs: false,
  props: ["id", "sourceX", "sourceY", "targetX", "targetY", "sourcePosition", "targetPosition", "markerEnd", "data"],
  computed: {
    path() {
      return getBezierPath({
        sourceX: this.sourceX,
        sourceY: this.sourceY,
        sourcePosition: this.sourcePosition,
        targetX: this.targetX,
        targetY: this.targetY,
        targetPosition: this.targetPosition,
      });
    },
    problems() {
      return (this.data && this.data.problems) || [];
    },
  },
  template: `
    <BaseEdge :id="id" :path="path[0]" :marker-end="markerEnd" />
    <EdgeLabelRenderer>
      <div class="akis-edge-problem nodrag nopan" data-testid="edge-problem" :data-edge-id="id"
           :style="{transform: 'translate(-50%, -50%) translate(' + path[1] + 'px,' + path[2] + 'px)'}"
           :title="problems.join('\\n')">!</div>
    </EdgeLabelRenderer>`,
};
