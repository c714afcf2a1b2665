"""The tutorial's sender and receiver processes talking through a multiprocessing.Pipe."""
from __future__ import annotations

import multiprocessing

from experiments.harness import ipc
from experiments.harness.params import Choice, Int

ID = "mp-pipe"
TITLE = "Process Pipe: sender and receiver"
SUMMARY = "A Pipe's recv() raises EOFError only when every copy of the other end is closed: the tutorial's receiver waits forever."
KIND = "processes"
NOTICE = (
    "variant=tutorial hangs. The receiver gets every message, then stays blocked in "
    "Pipe.recv, and main stays blocked in Process.join waiting for it. recv() raises "
    "EOFError only once every copy of the sending end is closed, and the sender closing "
    "its own copy is not enough: main still holds send_pipe (it never closes it), and "
    "under fork each child starts with copies of both ends too. Nobody will ever send "
    "again, but the pipe cannot know that. variant=fixed closes the unused ends: main "
    "closes both of its copies once the children are started, and each child first "
    "closes the end it does not use (see the Connection.close marks). When the sender "
    "closes its end, it is the last copy: the receiver gets EOFError and everyone finishes."
)
EXPECTED = "tutorial: the run hangs (receiver in Pipe.recv, main in Process.join); fixed: EOFError, then done."
PARAMS = (
    Choice("variant", "tutorial", ("tutorial", "fixed"), "tutorial: the code as printed; fixed: unused ends closed"),
    Int("messages", 5, 1, 100, "how many messages the sender sends (the tutorial: 5)"),
    Choice("start_method", "spawn", ("spawn", "fork", "forkserver"), "how the processes are started"),
)
# What fixes the tutorial's code, to compare with a run of it ("Run the fixed variant" on the run page).
FIXED_VARIANT = {"params": {"variant": "fixed"}}


def sender(pipe, messages):
    for i in range(messages):
        pipe.send(f"Message-{i}")
    pipe.close()


def receiver(pipe):
    while True:
        try:
            msg = pipe.recv()
            print(f"Received: {msg}")
        except EOFError:
            break
    pipe.close()


# The fix: each child closes its copy of the end it does not use. Under fork it inherited one;
# under spawn it only has what it is given, so it is handed the end to close it.

def sender_closing_unused(pipe, unused, messages):
    unused.close()
    sender(pipe, messages)


def receiver_closing_unused(pipe, unused):
    unused.close()  # this process's copy of send_pipe: it would keep the pipe open forever
    receiver(pipe)


def run(params, rec):
    context = multiprocessing.get_context(params["start_method"])
    recv_pipe, send_pipe = ipc.Pipe(rec, context)
    n = params["messages"]

    if params["variant"] == "tutorial":
        sender_proc = context.Process(target=sender, args=(send_pipe, n), name="sender")
        receiver_proc = context.Process(target=receiver, args=(recv_pipe,), name="receiver")
    else:
        sender_proc = context.Process(target=sender_closing_unused, args=(send_pipe, recv_pipe, n), name="sender")
        receiver_proc = context.Process(target=receiver_closing_unused, args=(recv_pipe, send_pipe), name="receiver")

    sender_proc.start()
    receiver_proc.start()
    if params["variant"] == "fixed":
        # The children have their own copies now: main's would keep the pipe open.
        send_pipe.close()
        recv_pipe.close()

    with rec.activity("Process.join", "wait"):
        sender_proc.join()
    with rec.activity("Process.join", "wait"):
        receiver_proc.join()
    return {"messages": n, "sender_exitcode": sender_proc.exitcode, "receiver_exitcode": receiver_proc.exitcode}


def findings(params, result, python):
    """What this run showed. It has a result only if both processes ended (the tutorial's receiver never does)."""
    from experiments.harness.wording import plural

    s, r = result["sender_exitcode"], result["receiver_exitcode"]
    if s == 0 and r == 0:
        return [f"The receiver got EOFError after {plural(result['messages'], 'message')}: every copy of the sending end "
                "was closed, so both processes ended, with exit code 0."]
    return [f"Exit codes: sender {s}, receiver {r}: a process failed (see its lane and the output)."]


def verdict(params, result, python):
    """The lesson, judged by how both processes ended (the tutorial's receiver never does: no result)."""
    from experiments.harness.wording import plural

    s, r = result["sender_exitcode"], result["receiver_exitcode"]
    if s == 0 and r == 0:
        return True, f"Every sending end was closed: the receiver got EOFError after {plural(result['messages'], 'message')} and both ended."
    return False, f"A process failed: sender exit code {s}, receiver {r}."
