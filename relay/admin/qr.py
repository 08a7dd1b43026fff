"""A QR code drawn in a terminal, for what an admin moves to a phone by scanning: the link URI
(`peer-relay link`) and the relay's peer key (`peer-relay identity`).

Unicode half blocks, two rows of modules per line, so a code fits 80 columns and survives an SSH
session. Light modules are drawn (the terminal's foreground): right for dark terminals.
"""

from __future__ import annotations


def qr_lines(text: str) -> list[str]:
    """`text` as a QR code in Unicode half blocks, light modules drawn (for dark terminals)."""
    import segno  # only the commands that draw a code need it

    qr = segno.make(text, micro=False)
    rows = [list(row) for row in qr.matrix]
    size = len(rows)
    border = 4  # the quiet zone QR readers expect
    dark = [[False] * (size + 2 * border) for _ in range(size + 2 * border)]
    for y, row in enumerate(rows):
        for x, module in enumerate(row):
            dark[y + border][x + border] = bool(module)
    if len(dark) % 2:
        dark.append([False] * len(dark[0]))
    # A light module is drawn (the terminal's foreground), a dark one left as background.
    blocks = {(True, True): " ", (False, True): "▀", (True, False): "▄", (False, False): "█"}
    return [
        "".join(blocks[(top, bottom)] for top, bottom in zip(dark[y], dark[y + 1], strict=True))
        for y in range(0, len(dark), 2)
    ]
