"""How a class reaches the lab: the addresses students type, and the same as a QR code.

`concurrency-lab class` prints them when it starts (app/web/classroom.py) and the presenter page
shows them large enough for a projector. The addresses are this machine's own, read from its
network interfaces (the loopback left out: a student's phone cannot reach 127.0.0.1), or
`LAB_PUBLIC_URL` when a proxy stands in front, or the name the teacher gave.
"""

from __future__ import annotations

import array
import fcntl
import ipaddress
import socket
import struct
import sys

import segno

SIOCGIFADDR = 0x8915  # Linux: an interface's IPv4 address
SIOCGIFCONF = 0x8912  # Linux: every configured IPv4 interface with its address


def interface_addresses() -> list[str]:
    """This machine's IPv4 addresses, the loopback left out, in the kernel's order (Linux; elsewhere the
    address of the route a packet would take: one, the one that matters on a laptop on Wi-Fi)."""
    found = _linux_addresses() if sys.platform.startswith("linux") else _routed_address()
    return [address for address in dict.fromkeys(found) if not ipaddress.ip_address(address).is_loopback]


def _linux_addresses() -> list[str]:
    # SIOCGIFCONF lists every interface with an IPv4 address, aliases included, in one call.
    slot = 40  # sizeof(struct ifreq) on 64-bit Linux
    buffer = array.array("B", b"\0" * slot * 128)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        request = struct.pack("iL", len(buffer), buffer.buffer_info()[0])
        length = struct.unpack("iL", fcntl.ioctl(probe.fileno(), SIOCGIFCONF, request))[0]
    raw = buffer.tobytes()[:length]
    return [socket.inet_ntoa(raw[at + 20 : at + 24]) for at in range(0, length, slot)]


def _routed_address() -> list[str]:
    # connect() on a UDP socket sends nothing: it only asks the kernel which address a packet would leave from.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: never reached, only routed
        except OSError:
            return []
        return [probe.getsockname()[0]]


def reachable_addresses(host: str, interfaces: list[str]) -> list[str]:
    """The addresses of this machine students can reach a lab listening on `host` at: every interface's for
    0.0.0.0 or ::, none for a loopback address (only a proxy on this machine reaches it), else `host` itself."""
    if host in ("0.0.0.0", "::", ""):
        return interfaces
    return [] if ipaddress.ip_address(host).is_loopback else [host]


def url_of(scheme: str, host: str, port: int) -> str:
    """`scheme://host:port`, the port left out where it is the scheme's own, an IPv6 address in brackets."""
    shown = f"[{host}]" if ":" in host else host
    default = {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{shown}" if port == default else f"{scheme}://{shown}:{port}"


def student_urls(addresses: list[str], port: int, names: list[str], public_url: str | None) -> list[str]:
    """What students type, best first: the public address behind a proxy; else each of this machine's
    addresses, then the names the lab was given (a name such as lab.local may not resolve on every phone:
    the QR code encodes the first, an address). Pure, for tests."""
    if public_url:
        return [public_url]
    return list(
        dict.fromkeys(
            [*(url_of("http", address, port) for address in addresses), *(url_of("http", name, port) for name in names)]
        )
    )


def qr_svg(url: str) -> str:
    """The QR code of `url` as an inline SVG element that scales to its box (the page sets its size)."""
    code = segno.make(url, error="m")
    svg: str = code.svg_inline(scale=1, border=2, dark="#000", light="#fff", omitsize=True, title=f"QR code: {url}")
    return svg


BLACK_ON_WHITE, RESET = "\x1b[30;107m", "\x1b[0m"


def qr_text(url: str) -> str:
    """The QR code of `url` for a terminal: two modules per character (half blocks), with its quiet zone, in
    black on white whatever the terminal's own colours (a scanner wants dark modules on a light ground)."""
    matrix = [list(row) for row in segno.make(url, error="m").matrix_iter(border=2)]
    if len(matrix) % 2:
        matrix.append([0] * len(matrix[0]))
    blocks = {(1, 1): "█", (1, 0): "▀", (0, 1): "▄", (0, 0): " "}  # (top dark, bottom dark)
    return "\n".join(
        BLACK_ON_WHITE + "".join(blocks[(top, bottom)] for top, bottom in zip(upper, lower)) + RESET
        for upper, lower in zip(matrix[::2], matrix[1::2])
    )
