// The Akis flow canvas: Vue Flow rendering Python's nodes, edges and group frames.
// Data comes in through props; user intent goes out as small typed events. The canvas never
// validates or runs anything: it draws what Python says and reports what the user did.
// The node card, the problem edge, the minimap and the shared constants are in the bundle
// (js/src/nodes.js, minimap.js, shared.js); this file keeps what needs NiceGUI's own modules
// (loadResource) and the canvas itself: props -> Vue Flow, group frames, gestures, keys.
import { markRaw } from "vue";
import {
  VueFlow,
  getTransformForBounds,
  MarkerType,
  Background,
  Controls,
  AkisNode,
  ProblemEdge,
  AkisMiniMap,
  AkisNote,
  NODE_W,
  NODE_H,
  FIT,
  DATA_DEFAULTS,
  edgeId,
  isTyping,
} from "akis-vueflow";
import { loadResource } from "../../static/utils/resources.js";

const DRAG_TYPE = "application/akis-node-type";
const FRAME_PAD = 22;
const FRAME_PAD_TOP = 34;

export { edgeId };

export default {
  components: { VueFlow, Background, Controls, AkisMiniMap },
  template: `
    <div class="akis-canvas" :class="{'akis-dark': isDark, 'akis-drop-target': dropActive}" tabindex="-1"
         :data-ready="readySent ? 'true' : null" @dragover="onDragOver" @dragleave="dropActive = false" @drop="onDrop">
      <VueFlow v-if="cssLoaded" :node-types="nodeTypes" :edge-types="edgeTypes" :min-zoom="0.1" :max-zoom="2"
               :delete-key-code="null" selection-key-code="Shift" :multi-selection-key-code="['Shift', 'Meta', 'Control']"
               connection-mode="strict" :elevate-edges-on-select="true" :zoom-on-double-click="false"
               @pane-ready="onPaneReady" @nodes-initialized="onNodesInitialized"
               @node-drag-start="onDragStart" @node-drag-stop="onDragStop"
               @selection-drag-start="onDragStart" @selection-drag-stop="onDragStop"
               @connect="onConnect" @nodes-change="onChanges" @edges-change="onChanges"
               @node-click="onNodeClick" @pane-click="$emit('pane_click', {})">
        <Background :gap="20" :size="1.2" :pattern-color="isDark ? '#334155' : '#cbd5e1'" />
        <Controls position="bottom-left" :show-interactive="false" />
        <AkisMiniMap v-if="flowTick" :flow="flow" :tick="flowTick" />
        <template #zoom-pane>
          <div class="akis-frames">
            <div v-for="f in frames" :key="f.id" class="akis-frame" :class="{'akis-frame--problem': f.problems.length}"
                 :data-group-id="f.id"
                 :style="{transform: 'translate(' + f.x + 'px,' + f.y + 'px)', width: f.w + 'px', height: f.h + 'px'}">
              <div class="akis-frame__label" @click="$emit('group_click', {id: f.id})">
                <i class="material-icons">call_split</i>{{ f.label }}
                <span v-if="f.join" class="akis-frame__join">join → {{ f.join }}</span>
              </div>
              <div v-if="f.problems.length" class="akis-frame__problem" data-testid="group-problem"
                   :title="f.problems.join('\\n')">{{ f.problems[0] }}</div>
            </div>
          </div>
        </template>
      </VueFlow>
    </div>`,
  props: {
    nodes: Array,
    edges: Array,
    groups: Array,
    notes: Array,
    dark: { type: Boolean, default: null },
    resourcePath: String,
  },
  data() {
    return {
      cssLoaded: false,
      flowTick: 0,
      readySent: false,
      dropActive: false,
      bodyDark: document.body.classList.contains("body--dark"),
      nodeTypes: markRaw({ akis: markRaw(AkisNode), "akis-note": markRaw(AkisNote) }),
      edgeTypes: markRaw({ "akis-problem": markRaw(ProblemEdge) }),
    };
  },
  computed: {
    isDark() {
      return this.dark === null || this.dark === undefined ? this.bodyDark : this.dark;
    },
    frames() {
      if (!this.flowTick || !this.flow) return [];
      const frames = [];
      for (const g of this.groups || []) {
        let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
        for (const id of g.nodes) {
          const n = this.flow.findNode(id);
          if (!n) continue;
          const w = n.dimensions.width || 232, h = n.dimensions.height || 64;
          x0 = Math.min(x0, n.position.x);
          y0 = Math.min(y0, n.position.y);
          x1 = Math.max(x1, n.position.x + w);
          y1 = Math.max(y1, n.position.y + h);
        }
        if (x0 === Infinity) continue;
        const problems = g.problems || [];
        const joinNode = g.join_at ? this.flow.findNode(g.join_at) : null;
        frames.push({
          id: g.id,
          label: g.label || g.id,
          join: joinNode ? joinNode.data.label || g.join_at : g.join_at || "",
          problems,
          x: x0 - FRAME_PAD,
          y: y0 - FRAME_PAD_TOP,
          w: x1 - x0 + 2 * FRAME_PAD,
          h: y1 - y0 + FRAME_PAD + FRAME_PAD_TOP + (problems.length ? 22 : 0),
        });
      }
      return frames;
    },
  },
  watch: {
    nodes() {
      this.scheduleSync();
    },
    edges() {
      this.scheduleSync();
    },
    notes() {
      this.scheduleSync();
    },
  },
  created() {
    this.t0 = performance.now();
    this.phases = {};
    this.flow = null;
    this.synced = { order: "", edges: "" };
    this.nodeKeys = new Map(); // node id -> JSON of the props it was last drawn from
    this.lastSelection = "";
    this.noteApi = markRaw({
      change: (payload) => this.onNoteChange(payload),
      zoom: () => (this.flow ? this.flow.getViewport().zoom : 1),
    });
  },
  async mounted() {
    this.onKey = this.onKey.bind(this);
    document.addEventListener("keydown", this.onKey);
    this.themeObserver = new MutationObserver(() => {
      this.bodyDark = document.body.classList.contains("body--dark");
    });
    this.themeObserver.observe(document.body, { attributes: true, attributeFilter: ["class"] });
    this.bodyDark = document.body.classList.contains("body--dark"); // a change before the observer
    await this.$nextTick(); // window.path_prefix is set by then
    await loadResource(window.path_prefix + `${this.resourcePath}/index.css`);
    this.cssLoaded = true;
    this.phases.css = this.since();
  },
  unmounted() {
    document.removeEventListener("keydown", this.onKey);
    this.themeObserver?.disconnect();
  },
  methods: {
    // ---------- props -> Vue Flow ----------
    toVfNode(n) {
      return {
        id: n.id,
        type: "akis",
        position: { x: n.position?.x ?? 0, y: n.position?.y ?? 0 },
        data: { ...DATA_DEFAULTS, ...(n.data || {}), label: n.label ?? n.id, node_type: n.type },
      };
    },
    toVfNote(n) {
      // Notes come first in Vue Flow's list, so they are drawn under the nodes.
      return {
        id: n.id,
        type: "akis-note",
        position: { x: n.x ?? 0, y: n.y ?? 0 },
        data: { text: n.text, html: n.html, width: n.width, height: n.height, tone: n.color, api: this.noteApi },
      };
    },
    onNoteChange(payload) {
      this.nodeKeys.delete(payload.id); // the browser shows it already: take the next props as they are
      this.$emit("note_change", payload);
    },
    toVfEdge(e) {
      const problems = e.problems || [];
      return {
        id: e.id || edgeId(e.source, e.target, e.sourceHandle),
        source: e.source,
        target: e.target,
        sourceHandle: e.sourceHandle || null,
        type: problems.length ? "akis-problem" : "default",
        class: problems.length ? "akis-edge--problem" : "",
        markerEnd: MarkerType.ArrowClosed,
        data: { problems },
      };
    },
    scheduleSync() {
      if (this.syncPending) return;
      this.syncPending = true;
      this.$nextTick(() => {
        this.syncPending = false;
        this.sync();
      });
    },
    sync() {
      // Vue Flow re-renders every node it is handed anew and, when the node list is replaced, every
      // edge too. So: the same ids in the same order -> merge only the nodes whose props changed;
      // otherwise replace the list, handing back the unchanged nodes as they are.
      if (!this.flow) return;
      const nodes = this.nodes || [];
      const items = [...(this.notes || []).map((n) => [n, this.toVfNote]), ...nodes.map((n) => [n, this.toVfNode])];
      const keys = new Map();
      const changed = [];
      const next = items.map(([n, make]) => {
        const key = JSON.stringify(n);
        keys.set(n.id, key);
        const same = this.nodeKeys.get(n.id) === key && this.flow.findNode(n.id);
        if (same) return same;
        const node = make(n);
        changed.push(node);
        return node;
      });
      const order = items.map(([n]) => n.id).join("\n");
      if (order !== this.synced.order) this.flow.setNodes(next);
      else changed.forEach((node) => this.flow.updateNode(node.id, node));
      this.nodeKeys = keys;
      this.synced.order = order;
      const edges = (this.edges || []).filter((e) => keys.has(e.source) && keys.has(e.target));
      const edgesKey = JSON.stringify(edges);
      if (edgesKey !== this.synced.edges) {
        this.synced.edges = edgesKey;
        this.flow.setEdges(edges.map(this.toVfEdge));
      }
    },
    since() {
      return Math.round(performance.now() - this.t0);
    },
    onPaneReady(instance) {
      this.flow = markRaw(instance);
      this.phases.pane = this.since();
      this.sync();
      this.fitNow(false);
      this.flowTick += 1;
      if (!(this.nodes || []).length) this.emitReady();
    },
    onNodesInitialized() {
      if (this.readySent) return;
      this.phases.measured = this.since();
      this.fitNow(true);
      this.emitReady();
    },
    fitNow(measured) {
      // Fit the view from node positions; before nodes are measured an estimated size is used, so
      // the first paint is already fitted and the measured fit rarely needs to move anything.
      const { width, height } = this.flow.dimensions.value;
      const nodes = this.flow.getNodes.value;
      if (!nodes.length || !width || !height) return;
      let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
      for (const n of nodes) {
        const w = (measured && n.dimensions.width) || NODE_W, h = (measured && n.dimensions.height) || NODE_H;
        x0 = Math.min(x0, n.position.x);
        y0 = Math.min(y0, n.position.y);
        x1 = Math.max(x1, n.position.x + w);
        y1 = Math.max(y1, n.position.y + h);
      }
      const bounds = { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
      const next = getTransformForBounds(bounds, width, height, FIT.minZoom, FIT.maxZoom, FIT.padding);
      const now = this.flow.getViewport();
      const moved = Math.abs(next.zoom - now.zoom) / now.zoom > 0.02 || Math.abs(next.x - now.x) + Math.abs(next.y - now.y) > 12;
      if (moved) this.flow.setViewport(next);
    },
    emitReady() {
      if (this.readySent) return;
      // after the next paint: a frame, then a task
      requestAnimationFrame(() =>
        setTimeout(() => {
          this.readySent = true;
          this.$emit("ready", {
            node_count: this.flow.getNodes.value.length,
            edge_count: this.flow.getEdges.value.length,
            ms: this.since(),
            page_ms: Math.round(performance.now()),
            phases: { ...this.phases, created: Math.round(this.t0) },
          });
        }, 0),
      );
    },

    // ---------- gestures -> events ----------
    frameAt(x, y, frames) {
      let best = null;
      for (const f of frames) {
        if (x >= f.x && x <= f.x + f.w && y >= f.y && y <= f.y + f.h && (!best || f.w * f.h < best.w * best.h)) {
          best = f;
        }
      }
      return best ? best.id : null;
    },
    onDragStart(e) {
      this.dragFrames = this.frames.map((f) => ({ ...f }));
      this.dragFrom = Object.fromEntries((e.nodes || [e.node]).map((n) => [n.id, { ...n.position }]));
    },
    onDragStop(e) {
      const nodes = e.nodes && e.nodes.length ? e.nodes : [e.node];
      const moves = nodes.map((n) => ({ id: n.id, x: Math.round(n.position.x), y: Math.round(n.position.y) }));
      const from = this.dragFrom || {};
      const moved = moves.some((m) => !from[m.id] || Math.abs(from[m.id].x - m.x) + Math.abs(from[m.id].y - m.y) >= 1);
      if (!moved) return;
      // the browser now differs from the last props: take these nodes from the next props as they are
      moves.forEach((m) => this.nodeKeys.delete(m.id));
      const lead = e.node || nodes[0];
      const w = lead.dimensions?.width || 232, h = lead.dimensions?.height || 64;
      const isNote = lead.type === "akis-note"; // a note never joins a group; its drag says nothing of frames
      const group = isNote ? null : this.frameAt(lead.position.x + w / 2, lead.position.y + h / 2, this.dragFrames || []);
      this.$emit("node_moved", { moves, group });
    },
    onConnect(params) {
      const sourceHandle = params.sourceHandle || null;
      const id = edgeId(params.source, params.target, sourceHandle);
      if (this.flow.findEdge(id)) return;
      this.flow.addEdges([this.toVfEdge({ id, source: params.source, target: params.target, sourceHandle })]);
      this.synced.edges = ""; // so that Python can take the edge back by sending the old edges
      this.$emit("connect", { id, source: params.source, target: params.target, sourceHandle });
    },
    onChanges(changes) {
      if (!changes.some((c) => c.type === "select") || this.selectionPending) return;
      this.selectionPending = true;
      setTimeout(() => {
        this.selectionPending = false;
        const nodes = this.flow.getSelectedNodes.value.map((n) => n.id).sort();
        const edges = this.flow.getSelectedEdges.value.map((e) => e.id).sort();
        const key = JSON.stringify([nodes, edges]);
        if (key === this.lastSelection) return;
        this.lastSelection = key;
        this.$emit("selection_change", { nodes, edges });
      }, 0);
    },
    onNodeClick(e) {
      // A plain click on a node of a multi-selection (say the members of a group just made)
      // selects that node alone; Vue Flow keeps such a selection so that it can be dragged.
      const ev = e.event || {};
      const multi = !!(ev.shiftKey || ev.ctrlKey || ev.metaKey);
      const selected = this.flow ? this.flow.getSelectedNodes.value : [];
      if (!multi && selected.length > 1 && selected.some((n) => n.id === e.node.id)) this.selectNodes([e.node.id]);
      this.$emit("node_click", { id: e.node.id, multi });
    },
    onDragOver(e) {
      if (!e.dataTransfer || !Array.from(e.dataTransfer.types || []).includes(DRAG_TYPE)) return;
      e.preventDefault();
      e.dataTransfer.dropEffect = "copy";
      this.dropActive = true;
    },
    onDrop(e) {
      this.dropActive = false;
      const type = e.dataTransfer && e.dataTransfer.getData(DRAG_TYPE);
      if (!type || !this.flow) return;
      e.preventDefault();
      const p = this.flow.screenToFlowCoordinate({ x: e.clientX, y: e.clientY });
      this.$emit("palette_drop", { type, x: Math.round(p.x), y: Math.round(p.y) });
    },
    onKey(e) {
      if (!this.flow || !this.$el.isConnected || this.$el.offsetParent === null) return;
      const mod = e.ctrlKey || e.metaKey;
      const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
      let action = null;
      if (mod && key === "s") action = "save";
      else if (isTyping(e.target)) return;
      else if (mod && key === "z") action = e.shiftKey ? "redo" : "undo";
      else if (mod && key === "y") action = "redo";
      else if (mod && key === "c" && !String(window.getSelection() || "")) action = "copy";
      else if (mod && key === "v") action = "paste";
      else if (mod && key === "a") action = "select_all";
      else if (!mod && (key === "Delete" || key === "Backspace")) {
        if (this.deleteSelection()) e.preventDefault();
        return;
      }
      if (!action) return;
      e.preventDefault();
      this.$emit("shortcut", { action });
    },

    // ---------- methods for Python (run_method) ----------
    updateNode(id, patch) {
      if (!this.flow || !this.flow.findNode(id)) return false;
      this.flow.updateNodeData(id, patch);
      this.nodeKeys.delete(id);
      return true;
    },
    fitView(padding = 0.12) {
      if (this.flow) this.flow.fitView({ padding, maxZoom: 1, duration: 200 });
    },
    setCenter(x, y, zoom = null) {
      if (this.flow) this.flow.setCenter(x, y, { zoom: zoom ?? this.flow.getViewport().zoom, duration: 200 });
    },
    selectNodes(ids) {
      if (!this.flow) return 0;
      this.flow.removeSelectedElements();
      const nodes = ids.map((id) => this.flow.findNode(id)).filter(Boolean);
      this.flow.addSelectedNodes(nodes);
      return nodes.length;
    },
    deleteSelection() {
      if (!this.flow) return false;
      const nodes = this.flow.getSelectedNodes.value.map((n) => n.id);
      const edges = this.flow.getSelectedEdges.value.map((e) => e.id);
      if (!nodes.length && !edges.length) return false;
      this.$emit("delete_request", { nodes, edges });
      return true;
    },
    getViewport() {
      if (!this.flow) return null;
      const { width, height } = this.flow.dimensions.value;
      return { ...this.flow.getViewport(), width, height };
    },
  },
};
