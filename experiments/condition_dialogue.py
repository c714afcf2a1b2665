"""The tutorial's Condition example: a Speaker and a Listener take turns through notify() and wait()."""
from __future__ import annotations

import threading

from experiments.harness.params import Choice
from experiments.harness.sync import Condition, join

ID = "condition-dialogue"
TITLE = "Condition: a dialogue that loses its first notify"
SUMMARY = "notify() wakes only a thread that is already waiting: if the Listener is not waiting yet, the Speaker's Hello is lost."
KIND = "threads"
NOTICE = (
    "The tutorial starts the Speaker first; if it also gets the Condition first, it says Hello "
    "and notifies while nobody is waiting yet, so that notify wakes no one (no arrow leaves "
    "it), and the Speaker waits for an answer. Then the Listener waits for a Hello that "
    "already happened. Both lanes end in a Condition.wait that never ends, and main waits "
    "for them in Thread.join: the run hangs. A notify is not remembered: it only wakes a "
    "thread that is waiting at that moment. variant=fixed keeps the two classes as written "
    "and hands them a condition with a turn variable: notify() gives the turn to the other "
    "thread and wait() is wait_for(it is my turn), which does not wait at all if the turn "
    "already came. Each arrow goes from a notify to the wait it ended, and the dialogue "
    "always finishes, whoever starts first."
)
EXPECTED = (
    "tutorial: \"Speaker: Hello\", then the run hangs, Speaker and Listener in Condition.wait, main in "
    "Thread.join; fixed: all six lines in order, then done."
)
PARAMS = (
    Choice("variant", "tutorial", ("tutorial", "fixed"), "tutorial: wait() and notify() as written; fixed: wait_for a turn variable"),
)
# What fixes the tutorial's code, to compare with a run of it ("Run the fixed variant" on the run page).
FIXED_VARIANT = {"params": {"variant": "fixed"}}


class Speaker(threading.Thread):
    def __init__(self, condition):
        super().__init__(name="Speaker")
        self.condition = condition

    def run(self):
        with self.condition:
            print(f"{self.name}: Hello")
            self.condition.notify()

            self.condition.wait()
            print(f"{self.name}: How are you?")
            self.condition.notify()

            self.condition.wait()
            print(f"{self.name}: Let's discuss programming")
            self.condition.notify()


class Listener(threading.Thread):
    def __init__(self, condition):
        super().__init__(name="Listener")
        self.condition = condition

    def run(self):
        with self.condition:
            self.condition.wait()
            print(f"{self.name}: Hi there")
            self.condition.notify()

            self.condition.wait()
            print(f"{self.name}: I'm good, thanks!")
            self.condition.notify()

            self.condition.wait()
            print(f"{self.name}: Sounds great!")
            self.condition.notify()


class TakingTurns:
    """variant=fixed: the Condition plus whose turn it is, behind the calls the classes make.

    notify() hands the turn to the other thread before notifying; wait() waits for this
    thread's turn with wait_for(), which checks first, so a notify sent before this thread
    waited is not lost: the turn it handed over is still there.
    """

    def __init__(self, condition, first, second):
        self.condition = condition
        self.turn = first
        self.other = {first: second, second: first}

    def __enter__(self):
        return self.condition.__enter__()

    def __exit__(self, *exc):
        return self.condition.__exit__(*exc)

    def notify(self):
        self.turn = self.other[threading.current_thread().name]
        self.condition.notify()

    def wait(self):
        me = threading.current_thread().name
        self.condition.wait_for(lambda: self.turn == me)


def run(params, rec):
    condition: Condition | TakingTurns = Condition(rec)
    if params["variant"] == "fixed":
        condition = TakingTurns(condition, "Speaker", "Listener")
    speaker = Speaker(condition)
    listener = Listener(condition)

    speaker.start()
    listener.start()
    # The tutorial's main ends here and the interpreter waits for both at exit; main joins
    # them so the result comes only once the dialogue is over.
    join(rec, speaker, listener)
    return {"dialogue": "finished"}


def findings(params, result, python):
    """What this run showed. It has a result only if the dialogue finished (a lost notify hangs it)."""
    if params["variant"] == "fixed":
        return ["The dialogue finished: each wait_for found its turn, even where the notify had come before the wait."]
    return ["The dialogue finished this time: the Listener was already waiting when the Speaker first notified, so "
            "no notify was lost. The tutorial's code only works when the threads happen to run in that order."]


def verdict(params, result, python):
    """The lesson, judged by this run (it has a result only if the dialogue finished)."""
    if result.get("dialogue") != "finished":
        return None, f"The dialogue ended as {result.get('dialogue')!r}."
    if params["variant"] == "fixed":
        return True, "The turn variable kept every notify: the dialogue finished."
    return False, ("No notify was lost this time: the Listener happened to be waiting first. "
                   "Run it again: the order is luck.")
