"""`concurrency-lab class`: the lab served to a class on the network, in one command.

It listens on every interface, signs the teacher in by a link (an admin token made on first use, kept
in a file only its owner may read, and used again the next time), and prints what a class needs, as
Jupyter prints its token URL: the addresses students type, the teacher's presenter link, and a QR code
of the students' address. `make run` stays the private default, on 127.0.0.1 only.
"""

from __future__ import annotations

import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from pydantic import SecretStr

from app.settings import Settings
from app.web.join import qr_text, student_urls, url_of
from app.web.security import is_loopback


@dataclass(frozen=True)
class Token:
    value: str
    path: Path | None  # where it is kept; None: it came from LAB_ADMIN_TOKEN
    made: bool  # made just now (else read from the file, or the environment)
    tightened: bool = False  # the file could be read by others: its mode was set to 0600


def admin_token(settings: Settings) -> Token:
    """LAB_ADMIN_TOKEN if set; else the one kept in the token file; else a new one, written there first."""
    if settings.admin_token is not None:
        return Token(settings.admin_token.get_secret_value(), None, made=False)
    path = settings.token_file().resolve()
    try:
        kept = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        kept = ""
    if kept:
        loose = stat.S_IMODE(path.stat().st_mode) & 0o077
        if loose:
            path.chmod(0o600)
        return Token(kept, path, made=False, tightened=bool(loose))
    token = secrets.token_urlsafe(24)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Created 0600 in one step (O_EXCL): never readable by others, not even for a moment.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(token + "\n")
    return Token(token, path, made=True)


def class_settings(settings: Settings, token: Token, host: str, port: int, names: list[str]) -> Settings:
    """The settings a class is served with: where it listens, the token, and the names the teacher gave."""
    return settings.model_copy(
        update={
            "host": host,
            "port": port,
            "admin_token": SecretStr(token.value),
            "allowed_hosts": [*settings.allowed_hosts, *names],
        }
    )


def presenter_link(base: str, token: str) -> str:
    return f"{base}/presenter?token={quote(token, safe='')}"


def oncpu_line(settings: Settings, source: dict[str, str]) -> str:
    """What the class command says of the on-CPU strips, from `experiments.harness.sampler.source_here()`. Pure."""
    if not settings.oncpu:
        return "On-CPU strips: off (LAB_ONCPU=false)."
    if source.get("source") == "switches":
        return "On-CPU strips: exact, from the kernel's own context-switch records."
    if not source.get("source"):
        return f"On-CPU strips: none on this machine ({source.get('reason', 'unknown')}); runs work without them."
    fix = f" For exact ones: {source['fix']}." if source.get("fix") else ""
    return f"On-CPU strips: sampled from /proc, as {source.get('reason', 'the exact source is not available')}.{fix}"


def banner(settings: Settings, token: Token, addresses: list[str], names: list[str], port: int, oncpu: str = "") -> str:
    """What `concurrency-lab class` prints at start (`oncpu`: oncpu_line's). Pure, for tests."""
    urls = student_urls(addresses, port, names, settings.public_url)
    lines = ["", "Concurrency Lab is serving your class.", ""]
    if urls:
        lines.append(f"  Students open:  {urls[0]}")
        lines.extend(f"             or:  {url}" for url in urls[1:])
    elif is_loopback(settings.host):
        lines.append(
            f"  Listening on {settings.host} only: students reach the lab through a proxy on this machine, "
            "whose address LAB_PUBLIC_URL gives (or leave out --host to listen on every interface)."
        )
    else:
        lines.append("  No network address found on this machine: join the class's network (Wi-Fi), then start again.")
    here = url_of("http", "localhost", port)
    teacher_base = urls[0] if urls else here
    lines += [
        "",
        f"  You, the teacher, sign in with:  {presenter_link(teacher_base, token.value)}",
        f"  (on this machine also {presenter_link(here, token.value)})",
    ]
    if token.path is not None:
        kept = "made now and kept" if token.made else "kept"
        lines.append(
            f"  The admin token is {kept} in {token.path} (only you can read it; the next start uses it again)."
        )
        if token.tightened:
            lines.append(f"  {token.path} could be read by others: it is now readable by you only (mode 0600).")
    else:
        lines.append("  The admin token is LAB_ADMIN_TOKEN's.")
    if urls:
        lines += [
            "",
            f"  Students can scan this to open {urls[0]} (the presenter page shows it too):",
            "",
            qr_text(urls[0]),
        ]
    if oncpu:
        lines += ["", f"  {oncpu}"]
    lines += ["", "  Stop with Ctrl-C. Runs are kept in " + str(Path(settings.database)) + ".", ""]
    return "\n".join(lines)
