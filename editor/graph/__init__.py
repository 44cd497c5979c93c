"""The editor's graph model in pure Python: no browser, no database, no NiceGUI.

``FlowDraft`` holds the flow being edited with typed, undoable edits; ``canvas_props`` turns it
into what the canvas draws; ``check`` maps validation problems onto nodes, edges and groups;
``diff_documents`` explains what changed between two versions.
"""
from .canvas_props import canvas_props, discovered_joins
from .diff import Change, diff_documents
from .draft import KEEP, EditError, FlowDraft, edge_ref, type_title
from .layout import layered_positions
from .problems import ProblemIndex, check

__all__ = [
    "KEEP", "Change", "EditError", "FlowDraft", "ProblemIndex", "canvas_props", "check", "diff_documents",
    "discovered_joins", "edge_ref", "layered_positions", "type_title",
]
