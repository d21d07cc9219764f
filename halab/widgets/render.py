"""The PNG a panel shows: drawn at 2x, lightly compressed, its text drawn from memory.

Matplotlib 3.11's Agg renderer places every glyph of every string from Python (a size, a
transform and a FreeType rendering per glyph), which makes text a third of a panel's redraw,
although a panel redraws the same tick labels, axis labels and legend on every slider move.
:class:`PanelCanvas` renders each distinct string once into a grey bitmap (as Matplotlib up
to 3.10 did, whole strings at whole pixels) and pastes it on later draws. It is hand-written
because no library offers it; it leans on private parts of Matplotlib's Agg backend
(``FT2Font._layout``, ``_render_glyph``, ``_set_transform``), so when one is missing (another
Matplotlib) the stock renderer draws the text instead. Only panels use this canvas; static
figures go through Matplotlib unchanged.
"""

from __future__ import annotations

import io

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg, get_hinting_flag
from matplotlib.ft2font import FT2Font

DISPLAY_DPI = 100  # CSS pixels per inch on the page: matplotlib's figure.dpi, as static figures
RENDER_DPI = 2 * DISPLAY_DPI  # pixels per inch of the PNG a panel shows (sharp: 2x)
PNG_OPTIONS = {"compress_level": 1}  # Pillow's zlib level: level 6 costs more CPU per move
TEXTS_KEPT = 4096  # rendered strings remembered (a few KiB each)

_CAN_CACHE = all(hasattr(FT2Font, name) for name in ("_layout", "_render_glyph", "_set_transform"))
_TEXTS: dict[tuple, tuple[np.ndarray, int, int] | None] = {}


def _bitmap(renderer: RendererAgg, s: str, prop, antialiased: bool, features, language):
    """The grey bitmap of ``s`` drawn at the origin, its left edge and top (pixels, y up)."""
    from matplotlib.ft2font import RenderMode

    font = renderer._prepare_font(prop)
    flags = get_hinting_flag()
    size = prop.get_size_in_points()
    mode = RenderMode.NORMAL if antialiased else RenderMode.MONO
    parts = []
    for item in font._layout(s, flags=flags, features=features, language=language):
        glyph_font = item.ft_object
        glyph_font.set_size(size, renderer.dpi)
        glyph_font._set_transform(
            np.array([[0x10000, 0], [0, 0x10000]]), [round(0x40 * item.x), round(0x40 * item.y)]
        )
        bitmap = glyph_font._render_glyph(item.glyph_index, flags, mode)
        buffer = np.array(bitmap.buffer, dtype=np.uint8)
        if buffer.size:
            parts.append((bitmap.left, bitmap.top, buffer if antialiased else buffer * 0xFF))
    if not parts:
        return None
    left = min(p[0] for p in parts)
    right = max(p[0] + p[2].shape[1] for p in parts)
    top = max(p[1] for p in parts)
    bottom = min(p[1] - p[2].shape[0] for p in parts)
    image = np.zeros((top - bottom, right - left), dtype=np.uint8)
    for x, y, buffer in parts:
        box = image[top - y : top - y + buffer.shape[0], x - left : x - left + buffer.shape[1]]
        np.maximum(box, buffer, out=box)
    return image, left, top


class _TextCachingRenderer(RendererAgg):
    """Agg, with each plain horizontal string rendered once and pasted afterwards."""

    def draw_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):
        if ismath or angle != 0 or not _CAN_CACHE:
            return super().draw_text(gc, x, y, s, prop, angle, ismath, mtext)
        features = mtext.get_fontfeatures() if mtext is not None else None
        language = mtext.get_language() if mtext is not None else None
        antialiased = bool(gc.get_antialiased())
        key = (s, hash(prop), prop.get_size_in_points(), self.dpi, antialiased)
        key += (tuple(features) if features else None, language)
        if key not in _TEXTS:
            if len(_TEXTS) >= TEXTS_KEPT:
                _TEXTS.clear()
            _TEXTS[key] = _bitmap(self, s, prop, antialiased, features, language)
        drawn = _TEXTS[key]
        if drawn is not None:  # y is downwards here; the image is placed by its bottom edge
            image, left, top = drawn
            self._renderer.draw_text_image(
                image, round(x) + left, round(y) - top + image.shape[0], 0, gc
            )
        return None


class PanelCanvas(FigureCanvasAgg):
    """Matplotlib's Agg canvas with :class:`_TextCachingRenderer` (kept while the size and
    dpi stay the same, as Agg keeps its renderer)."""

    def get_renderer(self):
        w, h = self.get_width_height(physical=True)
        key = w, h, self.figure.dpi
        if self._lastKey != key:
            self.renderer = _TextCachingRenderer(w, h, self.figure.dpi)
            self._lastKey = key
        return self.renderer


def render_png(fig) -> bytes:
    """The figure as the PNG a panel shows: :data:`RENDER_DPI`, lightly compressed."""
    from matplotlib.figure import Figure

    if not isinstance(fig, Figure):
        raise TypeError(f"fig must be a Matplotlib figure, got {fig!r}")
    if not isinstance(fig.canvas, PanelCanvas):
        PanelCanvas(fig)  # the figure's canvas from now on
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=RENDER_DPI, pil_kwargs=PNG_OPTIONS)
    return buffer.getvalue()
