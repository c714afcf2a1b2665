"""The tutorial's Semaphore example: ten WebCrawler threads, at most `permits` crawling at once."""
from __future__ import annotations

import threading

from experiments.blocking import sleep
from experiments.params import Choice, Int
from experiments.sync import Semaphore, join

ID = "semaphore-crawler"
TITLE = "Semaphore: a limited number of crawlers at once"
SUMMARY = "Semaphore(3) lets three threads in at a time; the others wait in acquire() until one leaves."
KIND = "threads"
NOTICE = (
    "The limit holds: the permits-in-use series never goes above `permits`, and "
    "max_concurrent in the result is the most permits held at once. Threads that find no "
    "permit wait in Semaphore.acquire (orange) until a crawler leaves its `with` block. But "
    "the tutorial's URLGenerator takes a permit too, around starting each crawler. That looks "
    "like it waits for a free slot before making the next crawler; it does not: it gives the "
    "permit back after start() and takes it again at once, before the new crawler can, so "
    "all the crawler threads are started within a few milliseconds anyway. While it loops it "
    "holds one of the permits (the thin holds at the start of its lane), so only permits - 1 "
    "crawlers can start crawling, none at all with permits=1. And each of its releases wakes "
    "a waiting crawler for nothing, which then queues again at the back: the pages are not "
    "crawled in order (crawl_order in the result). variant=fixed: the generator only starts "
    "the crawlers, only crawlers take permits, and they get them first come, first served."
)
EXPECTED = (
    "max_concurrent equals permits, never more; tutorial: generator_took_permits = urls, crawl_order "
    "out of page order; fixed: generator_took_permits 0, crawl_order in page order."
)
PARAMS = (
    Choice("variant", "tutorial", ("tutorial", "fixed"), "tutorial: URLGenerator also takes a permit to start each crawler; fixed: it does not"),
    Int("permits", 3, 1, 10, "Semaphore(permits) (the tutorial: 3)"),
    Int("urls", 10, 1, 30, "URLs, one WebCrawler thread each (the tutorial: 10)"),
    Int("crawl_ms", 2000, 0, 10_000, "time one simulated request takes (the tutorial: 2 s)"),
)


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
