"""Fan-out: frames shared by every viewer, and a full render made once per frame however many ask."""

from __future__ import annotations

import asyncio

from app.drawing.broadcast import Broadcast
from app.drawing.render import Renderer
from app.model.events import Event
from app.model.experiments import load
from app.model.runs import Run
from tests.helpers import templates, until_async


def running(run_id: str) -> Run:
    run = Run(run_id, load("tests.fixtures.handoff_experiment"), {"items": 4, "consume_ms": 0})
    run.start()
    return run


class CountingRenderer(Renderer):
    fulls = 0

    def full(self, run, view):
        self.fulls += 1
        return super().full(run, view)


def test_viewers_joining_at_the_same_frame_share_one_full_render():
    async def main():
        run = running("r1")
        run.ingest([Event("begin", 1_000, "w", "work", "run")])
        renderer = CountingRenderer(templates(), clock=lambda: 2_000_000)
        broadcast = Broadcast(run, renderer, frame_rate=20)
        first = [broadcast.snapshot() for _ in range(200)]  # a class opening the page at once
        producer = asyncio.create_task(broadcast.produce())
        await until_async(lambda: broadcast.seq == 1, what="the first frame")
        run.ingest([Event("end", 3_000_000, "w")])
        after = broadcast.snapshot()
        producer.cancel()
        return first, after, renderer.fulls

    first, after, fulls = asyncio.run(main())
    assert len({id(message) for message, _ in first}) == 1 and first[0][1] == 0
    assert after[1] == 1 and fulls == 2  # one more for the next frame's viewers


def test_every_waiting_viewer_gets_each_frame_and_a_late_one_gets_them_joined():
    async def main():
        run = running("r1")
        broadcast = Broadcast(run, Renderer(templates(), clock=lambda: 2_000_000), frame_rate=1000)
        waiting = [asyncio.create_task(broadcast.after(0)) for _ in range(300)]
        await asyncio.sleep(0)
        broadcast._publish("<p>one</p>", last=False)
        got = await asyncio.gather(*waiting)
        broadcast._publish("<p>two</p>", last=True)
        late = await broadcast.after(0)  # a viewer still at frame 0: both frames, as one message
        return got, late

    got, late = asyncio.run(main())
    assert got == [("<p>one</p>", 1)] * 300
    assert late == ("<p>one</p><p>two</p>", 2)


def test_the_first_lane_goes_out_at_once_then_frames_are_paced():
    async def main():
        run = running("r1")
        broadcast = Broadcast(run, Renderer(templates(), clock=lambda: 2_000_000), frame_rate=1)
        producer = asyncio.create_task(broadcast.produce())
        await until_async(lambda: broadcast.seq == 1, what="the frame that says it is running")
        run.ingest([Event("begin", 1_000, "w", "work", "run")])
        # At once, not a second later at one frame a second (a second is the timeout's margin).
        await until_async(lambda: broadcast.seq == 2, timeout=0.5, what="the first lane's frame")
        run.ingest([Event("end", 3_000, "w")])
        await asyncio.sleep(0.05)  # a while in which no frame may go out: nothing to wait for
        seq_then = broadcast.seq
        producer.cancel()
        return seq_then

    assert asyncio.run(main()) == 2  # the next change waits for its frame


def test_a_page_waits_for_the_first_lane_of_a_starting_run_but_not_for_long():
    async def main():
        run = running("r1")
        broadcast = Broadcast(run, Renderer(templates(), clock=lambda: 2_000_000), frame_rate=20)
        producer = asyncio.create_task(broadcast.produce())
        loop = asyncio.get_running_loop()
        started = loop.time()
        loop.call_later(0.05, run.ingest, [Event("begin", 1_000, "w", "work", "run")])
        await broadcast.first_lane(timeout=5)
        waited_for_lane = loop.time() - started
        lanes = broadcast.view.lanes
        silent = running("r2")
        started = loop.time()
        await Broadcast(silent, broadcast.renderer, frame_rate=20).first_lane(timeout=0.1)
        waited_for_nothing = loop.time() - started
        producer.cancel()
        return waited_for_lane, lanes, waited_for_nothing

    waited_for_lane, lanes, waited_for_nothing = asyncio.run(main())
    assert lanes == 1 and 0.04 < waited_for_lane < 1  # until it came, not the whole 5 s
    assert 0.09 < waited_for_nothing < 1  # a run that draws nothing holds its page back only so long
