"""The tutorial's Semaphore example: ten WebCrawler threads, at most `permits` crawling at once."""
from __future__ import annotations

import threading

from experiments.harness.blocking import sleep
from experiments.harness.params import Choice, Int
from experiments.harness.sync import Semaphore, join

ID = "semaphore-crawler"
TITLE = "Semaphore: a limited number of crawlers at once"
SUMMARY = "Semaphore(3) lets three threads in at a time; the others wait in acquire() until one leaves."
KIND = "threads"
NOTICE = (
    "The permits-in-use series never goes above `permits`, and max_concurrent in the result "
    "is the most permits held at once. Threads that find no permit wait in Semaphore.acquire "
    "(orange) until a crawler leaves its `with` block. But the tutorial's URLGenerator takes a "
    "permit too, around starting each crawler (the thin holds on its lane). That looks like it "
    "waits for a free slot before making the next crawler; it does not: it gives the permit "
    "back after start() and can take it again at once. While it holds one, one crawler fewer "
    "can crawl, and each of its releases can wake a waiting crawler for nothing, which then "
    "queues again: compare crawl_order with page order. variant=fixed: the generator only "
    "starts the crawlers and only crawlers take permits, in about the order they asked."
)
EXPECTED = (
    "max_concurrent at most permits, never more; tutorial: generator_took_permits = urls; fixed: "
    "generator_took_permits 0, crawl_order in page order or nearly (a waiting thread is not always the next to get a permit)."
)
PARAMS = (
    Choice("variant", "tutorial", ("tutorial", "fixed"), "tutorial: URLGenerator also takes a permit to start each crawler; fixed: it does not"),
    Int("permits", 3, 1, 10, "Semaphore(permits) (the tutorial: 3)"),
    Int("urls", 10, 1, 30, "URLs, one WebCrawler thread each (the tutorial: 10)"),
    Int("crawl_ms", 2000, 0, 10_000, "time one simulated request takes (the tutorial: 2 s)"),
)
# What fixes the tutorial's code, to compare with a run of it ("Run the fixed variant" on the run page).
FIXED_VARIANT = {"params": {"variant": "fixed"}}


class WebCrawler(threading.Thread):
    def __init__(self, url, semaphore, rec, crawl_s):
        super().__init__(name=url.rsplit("/", 1)[-1])  # lanes named page0, page1, ...
        self.url = url
        self.semaphore = semaphore
        self.rec = rec
        self.crawl_s = crawl_s

    def run(self):
        with self.semaphore:
            sleep(self.rec, self.crawl_s)  # Simulate network request
            print(f"Crawled: {self.url}")


class URLGenerator(threading.Thread):
    def __init__(self, semaphore, rec, params):
        super().__init__(name="URLGenerator")
        self.semaphore = semaphore
        self.rec = rec
        self.params = params
        self.crawlers = []  # kept so main can join them

    def run(self):
        urls = [f"https://example.com/page{i}" for i in range(self.params["urls"])]
        for url in urls:
            if self.params["variant"] == "tutorial":
                with self.semaphore:
                    self.start_crawler(url)
            else:
                self.start_crawler(url)

    def start_crawler(self, url):
        crawler = WebCrawler(url, self.semaphore, self.rec, self.params["crawl_ms"] / 1000)
        crawler.start()
        self.crawlers.append(crawler)


def run(params, rec):
    semaphore = Semaphore(rec, params["permits"])  # Limit to 3 concurrent crawlers (permits=3)
    url_generator = URLGenerator(semaphore, rec, params)
    url_generator.start()
    # The tutorial's main ends here (the interpreter waits for the threads at exit); main
    # joins them so the result can report the whole crawl.
    join(rec, url_generator)
    join(rec, *url_generator.crawlers)
    return {
        "permits": params["permits"],
        "max_concurrent": semaphore.max_in_use,
        "generator_took_permits": semaphore.acquired_by.count(url_generator.name),
        "crawl_order": [name for name in semaphore.acquired_by if name != url_generator.name],
    }


def findings(params, result, python):
    """What this run showed: how many permits were ever in use at once, by whom, and in what order pages went."""
    from experiments.harness.wording import plural

    permits, most, urls = result["permits"], result["max_concurrent"], params["urls"]
    said = [f"The most permits in use at once: {most}, of {permits}: the limit held."
            if most <= permits else f"{plural(most, 'permit')} were in use at once, more than {permits}: a bug in the lab."]
    if most < permits:
        why = [f"there were only {plural(urls, 'crawler')}" + (" and the generator" if params["variant"] == "tutorial" else "")
               ] if urls + (params["variant"] == "tutorial") < permits else []
        if params["crawl_ms"] == 0:
            why.append("with crawl_ms=0 each crawler let go almost as soon as it got in")
        said.append("Not every permit was used" + (": " + "; ".join(why) if why else "") + ".")
    took = result["generator_took_permits"]
    if took:
        said.append(f"The URLGenerator took a permit {plural(took, 'time')}, once per crawler it started.")
    order = result["crawl_order"]
    pages = sorted(order, key=lambda name: int(name[4:]))
    if order == pages:
        said.append("The crawlers got their permits in page order.")
    else:
        said.append(f"The crawlers got their permits out of page order: {', '.join(order)}"
                    + (": the generator's releases woke waiting crawlers that then lost the permit to it."
                       if took else ": a released permit does not always go to the thread that waited longest."))
    return said


def verdict(params, result, python):
    """The lesson, judged by the most permits this run ever had in use at once."""
    from experiments.harness.wording import plural

    permits, most = result["permits"], result["max_concurrent"]
    if most > permits:
        return False, f"{most} threads held a permit at once, more than {permits}: a bug in the lab."
    return True, f"The semaphore never let more than {most} in at once (it has {plural(permits, 'permit')})."
