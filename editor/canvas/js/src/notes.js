// The sticky note (node type "akis-note"): Markdown rendered by Python (data.html, escaped there),
// edited in place on double-click, resized from its corner. What the person did goes back to the
// canvas through data.api.change({id, text} | {id, width, height} | {id, color}), which emits
// `note_change`. A selected note offers its colours in a row of dots at its top right.
// A plain option object with a string template, like the node card (see nodes.js).
const MIN_W = 120;
const MIN_H = 60;
const TONES = ["yellow", "blue", "green", "pink", "grey"];

export const AkisNote = {
  inheritAttrs: false,
  props: ["id", "data", "selected"],
  data() {
    return { editing: false, draft: "", w: this.data.width, h: this.data.height, resizing: null, tones: TONES };
  },
  watch: {
    "data.width"(value) {
      if (!this.resizing) this.w = value;
    },
    "data.height"(value) {
      if (!this.resizing) this.h = value;
    },
  },
  methods: {
    startEdit() {
      this.draft = this.data.text || "";
      this.editing = true;
      this.$nextTick(() => this.$refs.area && this.$refs.area.focus());
    },
    finishEdit() {
      if (!this.editing) return;
      this.editing = false;
      if (this.draft !== (this.data.text || "")) this.data.api.change({ id: this.id, text: this.draft });
    },
    onKey(e) {
      if (e.key === "Escape") {
        this.draft = this.data.text || "";
        this.editing = false;
      } else if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
        this.finishEdit();
      }
    },
    setTone(tone) {
      if (tone !== this.data.tone) this.data.api.change({ id: this.id, color: tone });
    },
    onResizeDown(e) {
      e.target.setPointerCapture(e.pointerId);
      this.resizing = { x: e.clientX, y: e.clientY, w: this.w, h: this.h, zoom: this.data.api.zoom() };
    },
    onResizeMove(e) {
      const r = this.resizing;
      if (!r) return;
      this.w = Math.max(MIN_W, Math.round(r.w + (e.clientX - r.x) / r.zoom));
      this.h = Math.max(MIN_H, Math.round(r.h + (e.clientY - r.y) / r.zoom));
    },
    onResizeUp() {
      const r = this.resizing;
      this.resizing = null;
      if (r && (r.w !== this.w || r.h !== this.h)) this.data.api.change({ id: this.id, width: this.w, height: this.h });
    },
  },
  template: `
    <div class="akis-note" :class="['akis-note--' + (data.tone || 'yellow'), {'akis-note--selected': selected}]"
         :style="{width: w + 'px', height: h + 'px'}" :data-note-id="id" data-testid="sticky-note"
         @dblclick.stop="startEdit">
      <textarea v-if="editing" ref="area" v-model="draft" class="akis-note__editor nodrag nowheel"
                data-testid="sticky-note-editor" @keydown.stop="onKey" @blur="finishEdit"></textarea>
      <div v-else class="akis-note__body nowheel" v-html="data.html" title="Double-click to edit"></div>
      <div v-if="selected && !editing" class="akis-note__tones nodrag" data-testid="sticky-note-tones">
        <span v-for="t in tones" :key="t" class="akis-note__tone" :class="['akis-note--' + t, {'akis-note__tone--on': t === (data.tone || 'yellow')}]"
              :title="t" :data-tone="t" @click.stop="setTone(t)"></span>
      </div>
      <div class="akis-note__resize nodrag" data-testid="sticky-note-resize" title="Drag to resize"
           @pointerdown.stop.prevent="onResizeDown" @pointermove="onResizeMove" @pointerup="onResizeUp"></div>
    </div>`,
};
