"""Fix the stream serial number of an Ogg file, so rebuilding it gives the same bytes.

Why this exists: the Ogg Vorbis writer behind soundfile gives every new
stream a random serial number. The serial sits in the header of every page and is
covered by the page's checksum, so the same audio encodes to a different file
on each run, and regenerating ``audio/`` would always show the ``.ogg`` as changed.
:func:`set_ogg_serial` writes one fixed serial into every page and recomputes
each page's checksum, which makes the rebuild byte-identical.

The checksum is computed here by hand because Ogg's CRC-32 is not the one in
:mod:`zlib`: Ogg uses the same polynomial unreflected (MSB first), starting
from 0 and without the final inversion.
"""

from __future__ import annotations

__all__ = ["set_ogg_serial"]


def _ogg_crc32(data: bytes) -> int:
    """CRC-32 as Ogg computes it (polynomial 0x04C11DB7, MSB first, no reflection)."""
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else (crc << 1)
            crc &= 0xFFFFFFFF
    return crc


def set_ogg_serial(data: bytes, serial: int = 1) -> bytes:
    """Give every page of a single-stream Ogg file a fixed serial number.

    libvorbis picks a random stream serial number, so the same audio would
    give a different file on each run; fixing it makes regeneration
    byte-for-byte reproducible. Each page's checksum is recomputed.

    Parameters
    ----------
    data : bytes
        The Ogg file.
    serial : int
        Serial number to write (0 .. 2**32 - 1).

    Returns
    -------
    bytes
        The same file with the new serial number.

    Raises
    ------
    ValueError
        If the data is not a sequence of Ogg pages.
    """
    pages = bytearray(data)
    position = 0
    while position < len(pages):
        if pages[position : position + 4] != b"OggS":
            raise ValueError(f"no Ogg page at byte {position}")
        n_segments = pages[position + 26]
        segment_table = pages[position + 27 : position + 27 + n_segments]
        page_end = position + 27 + n_segments + sum(segment_table)
        pages[position + 14 : position + 18] = serial.to_bytes(4, "little")
        pages[position + 22 : position + 26] = bytes(4)
        crc = _ogg_crc32(bytes(pages[position:page_end]))
        pages[position + 22 : position + 26] = crc.to_bytes(4, "little")
        position = page_end
    return bytes(pages)
