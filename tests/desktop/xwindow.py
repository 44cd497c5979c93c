"""Talking to the X server the way a window manager and a person would: find a top-level
window by its title, ask it to close (the close button's WM_DELETE_WINDOW message), and take a
screenshot of the screen. libX11 through ctypes (no extra package); the screenshot through Qt,
which the desktop extra installs."""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import subprocess
import sys
from pathlib import Path

ClientMessage = 33
NoEventMask = 0
Window = ctypes.c_ulong
Atom = ctypes.c_ulong


class XClientMessageEvent(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("serial", ctypes.c_ulong), ("send_event", ctypes.c_int),
                ("display", ctypes.c_void_p), ("window", Window), ("message_type", Atom),
                ("format", ctypes.c_int), ("data", ctypes.c_long * 5)]


class XWindowAttributes(ctypes.Structure):
    """The leading fields of Xlib's XWindowAttributes; the rest is room for what follows."""

    _fields_ = [("x", ctypes.c_int), ("y", ctypes.c_int), ("width", ctypes.c_int), ("height", ctypes.c_int),
                ("rest", ctypes.c_byte * 256)]


class XEvent(ctypes.Union):
    _fields_ = [("type", ctypes.c_int), ("xclient", XClientMessageEvent), ("pad", ctypes.c_long * 24)]


def _xlib() -> ctypes.CDLL:
    name = ctypes.util.find_library("X11") or "libX11.so.6"
    lib = ctypes.CDLL(name)
    lib.XOpenDisplay.restype = ctypes.c_void_p
    lib.XOpenDisplay.argtypes = [ctypes.c_char_p]
    lib.XDefaultRootWindow.restype = Window
    lib.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
    lib.XQueryTree.argtypes = [ctypes.c_void_p, Window, ctypes.POINTER(Window), ctypes.POINTER(Window),
                               ctypes.POINTER(ctypes.POINTER(Window)), ctypes.POINTER(ctypes.c_uint)]
    lib.XFetchName.argtypes = [ctypes.c_void_p, Window, ctypes.POINTER(ctypes.c_char_p)]
    lib.XInternAtom.restype = Atom
    lib.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    lib.XSendEvent.argtypes = [ctypes.c_void_p, Window, ctypes.c_int, ctypes.c_long, ctypes.POINTER(XEvent)]
    lib.XFlush.argtypes = [ctypes.c_void_p]
    lib.XFree.argtypes = [ctypes.c_void_p]
    lib.XCloseDisplay.argtypes = [ctypes.c_void_p]
    lib.XGetWindowProperty.argtypes = [ctypes.c_void_p, Window, Atom, ctypes.c_long, ctypes.c_long, ctypes.c_int,
                                       Atom, ctypes.POINTER(Atom), ctypes.POINTER(ctypes.c_int),
                                       ctypes.POINTER(ctypes.c_ulong), ctypes.POINTER(ctypes.c_ulong),
                                       ctypes.POINTER(ctypes.POINTER(ctypes.c_ulong))]
    lib.XGetWindowAttributes.argtypes = [ctypes.c_void_p, Window, ctypes.POINTER(XWindowAttributes)]
    lib.XMoveResizeWindow.argtypes = [ctypes.c_void_p, Window, ctypes.c_int, ctypes.c_int, ctypes.c_uint,
                                      ctypes.c_uint]
    return lib


class XDisplay:
    def __init__(self, display: str) -> None:
        self.lib = _xlib()
        self.handle = self.lib.XOpenDisplay(display.encode())
        if not self.handle:
            raise OSError(f"cannot open X display {display}")

    def close(self) -> None:
        self.lib.XCloseDisplay(self.handle)

    def _children(self, window: int) -> list[int]:
        root, parent = Window(), Window()
        children = ctypes.POINTER(Window)()
        count = ctypes.c_uint()
        if not self.lib.XQueryTree(self.handle, window, ctypes.byref(root), ctypes.byref(parent),
                                   ctypes.byref(children), ctypes.byref(count)):
            return []
        found = [children[i] for i in range(count.value)]
        if children:
            self.lib.XFree(children)
        return found

    def _name(self, window: int) -> str:
        name = ctypes.c_char_p()
        if self.lib.XFetchName(self.handle, window, ctypes.byref(name)) and name.value is not None:
            text = name.value.decode("utf-8", "replace")
            self.lib.XFree(name)
            return text
        return ""

    def titles(self) -> dict[int, str]:
        """Top-level windows (children of the root: no window manager runs under Xvfb) and their titles."""
        root = self.lib.XDefaultRootWindow(self.handle)
        return {window: self._name(window) for window in self._children(root)}

    def windows_titled(self, part: str) -> list[int]:
        """Top-level windows whose title contains ``part`` (the window follows its page's title)."""
        return [window for window, title in self.titles().items() if part in title]

    def geometry(self, window: int) -> tuple[int, int, int, int]:
        """(x, y, width, height) of a top-level window."""
        attributes = XWindowAttributes()
        if not self.lib.XGetWindowAttributes(self.handle, window, ctypes.byref(attributes)):
            raise OSError(f"no attributes for window {window}")
        return attributes.x, attributes.y, attributes.width, attributes.height

    def icon_sizes(self, window: int) -> list[tuple[int, int]]:
        """The (width, height) of each image in the window's _NET_WM_ICON (what a task bar shows)."""
        kind, size_format = Atom(), ctypes.c_int()
        count, remaining = ctypes.c_ulong(), ctypes.c_ulong()
        data = ctypes.POINTER(ctypes.c_ulong)()
        name = self.lib.XInternAtom(self.handle, b"_NET_WM_ICON", False)
        if self.lib.XGetWindowProperty(self.handle, window, name, 0, 1 << 22, False, 0, ctypes.byref(kind),
                                       ctypes.byref(size_format), ctypes.byref(count), ctypes.byref(remaining),
                                       ctypes.byref(data)) != 0 or not data:
            return []
        values = [data[i] for i in range(count.value)]
        self.lib.XFree(data)
        sizes, position = [], 0
        while position + 2 <= len(values):  # width, height, then width*height ARGB pixels
            width, height = values[position], values[position + 1]
            sizes.append((int(width), int(height)))
            position += 2 + width * height
        return sizes

    def move_resize(self, window: int, x: int, y: int, width: int, height: int) -> None:
        """What a person dragging the window's corner and title bar does (no window manager here)."""
        self.lib.XMoveResizeWindow(self.handle, window, x, y, width, height)
        self.lib.XFlush(self.handle)

    def type_into(self, window: int, text: str, select_all: bool = True) -> None:
        """Focus ``window`` and type ``text`` then Return, key by key, as a keyboard does (XTest).
        Letters, digits and ``/ . -`` only (no Shift needed); Ctrl+A first replaces what is there."""
        tst = ctypes.CDLL(ctypes.util.find_library("Xtst") or "libXtst.so.6")
        tst.XTestFakeKeyEvent.argtypes = [ctypes.c_void_p, ctypes.c_uint, ctypes.c_int, ctypes.c_ulong]
        self.lib.XStringToKeysym.restype = ctypes.c_ulong
        self.lib.XStringToKeysym.argtypes = [ctypes.c_char_p]
        self.lib.XKeysymToKeycode.restype = ctypes.c_ubyte
        self.lib.XKeysymToKeycode.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
        self.lib.XSetInputFocus.argtypes = [ctypes.c_void_p, Window, ctypes.c_int, ctypes.c_ulong]
        self.lib.XRaiseWindow.argtypes = [ctypes.c_void_p, Window]
        self.lib.XRaiseWindow(self.handle, window)
        self.lib.XSetInputFocus(self.handle, window, 2, 0)  # RevertToParent, CurrentTime
        self.lib.XFlush(self.handle)
        names = {"/": "slash", ".": "period", "-": "minus"}

        def code(name: str) -> int:
            keycode = int(self.lib.XKeysymToKeycode(self.handle, self.lib.XStringToKeysym(name.encode())))
            if not keycode:
                raise ValueError(f"no key for {name!r}")
            return keycode

        def press(*keys: str) -> None:
            codes = [code(k) for k in keys]
            for keycode in codes:
                tst.XTestFakeKeyEvent(self.handle, keycode, True, 0)
            for keycode in reversed(codes):
                tst.XTestFakeKeyEvent(self.handle, keycode, False, 0)
            self.lib.XFlush(self.handle)

        if select_all:
            press("Control_L", "a")
        for char in text:
            if not (char.isascii() and ((char.isalnum() and not char.isupper()) or char in names)):
                raise ValueError(f"cannot type {char!r}")
            press(names.get(char, char))
        press("Return")

    def request_close(self, window: int) -> None:
        """What a window manager sends when the close button is clicked."""
        event = XEvent()
        event.xclient.type = ClientMessage
        event.xclient.window = window
        event.xclient.message_type = self.lib.XInternAtom(self.handle, b"WM_PROTOCOLS", False)
        event.xclient.format = 32
        event.xclient.data[0] = self.lib.XInternAtom(self.handle, b"WM_DELETE_WINDOW", False)
        event.xclient.data[1] = 0  # CurrentTime
        self.lib.XSendEvent(self.handle, window, False, NoEventMask, ctypes.byref(event))
        self.lib.XFlush(self.handle)


_GRAB = """
import sys
from PyQt6.QtWidgets import QApplication
app = QApplication(sys.argv[:1])
picture = app.primaryScreen().grabWindow(0)
sys.exit(0 if picture.save(sys.argv[1]) else 1)
"""


def screenshot(display: str, target: Path) -> None:
    """The whole X screen as a PNG (a separate process: Qt wants its own main thread)."""
    env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"}
    subprocess.run([sys.executable, "-c", _GRAB, str(target)], env=env, check=True, timeout=60,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
