"""A mixed load on a real `registry serve`, from locust (headless, as a library).

Seeds the publish gate's data set (as `gate.py`: media with faces and badges, consents in every
state), creates events through the API, starts `registry serve` (SQLite in a temp folder, or
`--database-url` / REGISTRY_DATABASE_URL for PostgreSQL) and runs `--clients` locust users on
loopback for `--seconds`. Each user picks, by weight:

- 30% a staff booking: `POST /api/events/{id}/bookings`, a new name and address each, with the
  confirmation mail (to the server log, or to the bench's SMTP server with `--smtp`);
- 45% a gate check: `GET /api/media/{id}/publishable?channel=...` on random seeded media;
- 10% a booking list: `GET /api/events/{id}/bookings`;
- 15% the public booking page: `GET /events/{id}/book` (no credentials).

Every answer is expected to be 2xx; anything else is an error, counted by status or exception.
Prints requests, requests/s, p50/p99/max and errors per kind, then the serve process tree's
resident memory, open file descriptors and (PostgreSQL) database connections.

`--soak MINUTES --rate R` holds R requests/s in total for that long and samples the server's
memory, descriptors and connections every 30 s (the series and its growth). `--smtp` starts a
mail server on loopback (aiosmtpd, in its own process) and reports, after up to 120 s, the
confirmations delivered against the bookings made and any address mailed more than once.
`--burst N` makes N bookings spread over 60 s (`--burst-seconds`), then waits for their
confirmations (implies `--smtp`): bookings made, bookings the API lists, confirmations,
duplicates, and how long after the last booking the last confirmation arrived.

    uv run python bench/load.py [--clients 32] [--seconds 40] [--server-workers 1]
                                [--database-url URL] [--smtp] [--soak MINUTES --rate R]
                                [--burst N [--burst-seconds 60]]
"""

from __future__ import annotations

# locust runs its users as greenlets: the standard library must be patched before anything
# (ours included) imports socket, ssl or threading.
from gevent import monkey  # type: ignore[import-untyped]

monkey.patch_all()

import argparse  # noqa: E402
import http.client  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections import Counter, defaultdict  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from contextlib import ExitStack, contextmanager  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import gevent  # noqa: E402
from locust import FastHttpUser, TaskSet, constant, constant_throughput  # noqa: E402
from locust.env import Environment  # noqa: E402
from locust.exception import StopUser  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from common import bench_env, create_admin, free_port, percentile, server, sign_in  # noqa: E402
from gate import CHANNELS, seed  # noqa: E402

from registry import migrations  # noqa: E402
from registry.db import engine_for  # noqa: E402
from registry.lifetime import die_with_parent  # noqa: E402

KINDS = ("booking", "gate", "list", "page")
SAMPLE_EVERY = 30.0  # seconds between resource samples in a soak
MAIL_WAIT = 120.0  # longest wait for confirmations after the load

# The mail server runs in its own process: aiosmtpd is asyncio, which does not share a thread
# with gevent's hub. It appends "time<TAB>recipient<TAB>subject" per recipient to a file, and
# ends when the bench closes its stdin (or dies: parent-death signal).
SMTP_SINK = """
import signal, sys, time
from email.parser import BytesHeaderParser
from aiosmtpd.controller import Controller

class Sink:
    async def handle_DATA(self, server, session, envelope):
        subject = str(BytesHeaderParser().parsebytes(envelope.content)["Subject"] or "")
        with open(sys.argv[2], "a") as out:
            for rcpt in envelope.rcpt_tos:
                out.write(f"{time.time():.3f}\\t{rcpt}\\t{' '.join(subject.split())}\\n")
        return "250 OK"

signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the bench's: it closes our stdin
controller = Controller(Sink(), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
print("ready", flush=True)
sys.stdin.read()
controller.stop()
"""


@dataclass
class Load:
    """What the users share: credentials, targets, and what they saw."""

    auth: dict[str, str]
    events: list[str]
    media: list[str]
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    numbers: Iterator[int] = field(default_factory=itertools.count)
    booked: dict[str, float] = field(default_factory=dict)  # address -> when the 201 came
    already_booked: int = 0
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    failures: Counter[tuple[str, str]] = field(default_factory=Counter)
    pace: tuple[int, float] | None = None  # a burst: (bookings, over seconds)
    slots: Iterator[int] = field(default_factory=itertools.count)
    paced_from: float | None = None
    started: float = 0.0  # time.time() when the users started
    slowest: dict[str, tuple[float, float]] = field(default_factory=dict)  # kind -> (ms, at s)

    def next_booking(self) -> tuple[str, str]:
        n = next(self.numbers)
        return f"Load {self.run} {n}", f"load-{self.run}-{n}@example.org"

    def record(
        self,
        name: str,
        response_time: float,
        exception: BaseException | None,
        start_time: float,
        **_: Any,
    ) -> None:
        """locust's request event: every request's time (ms), and its error if any."""
        if name not in KINDS:
            return
        self.latencies[name].append(response_time)
        if response_time > self.slowest.get(name, (0.0, 0.0))[0]:
            self.slowest[name] = (response_time, start_time - self.started)
        if exception is not None:
            self.failures[(name, describe(exception))] += 1


def describe(exception: BaseException) -> str:
    text = str(exception)
    # Our own failures read "HTTP 503"; a connection error is named by its class.
    return text if text.startswith("HTTP ") else f"{type(exception).__name__}: {text[:120]}"


def user_class(
    load: Load, *, wait: Callable[..., float], mix: dict[str, int]
) -> type[FastHttpUser]:
    """A locust user doing `mix` (kind -> weight) against the shared `load`."""

    class Client(FastHttpUser):
        wait_time = wait
        network_timeout = 60.0
        connection_timeout = 10.0

        def expect_2xx(self, kind: str, method: str, path: str, **kwargs: Any) -> Any:
            with self.client.request(
                method, path, name=kind, catch_response=True, allow_redirects=False, **kwargs
            ) as response:
                if response.status_code == 0:
                    return None  # a connection error: locust reports the exception
                if not 200 <= response.status_code < 300:
                    response.failure(f"HTTP {response.status_code}")
                    return None
                response.success()
                return response

        def book(self) -> None:
            if load.pace is not None:
                # The k-th booking of a burst leaves at k/N of its time, whoever sends it: a
                # slow answer holds one user, not the schedule.
                count, seconds = load.pace
                slot = next(load.slots)
                if slot >= count:
                    raise StopUser()
                load.paced_from = load.paced_from or time.monotonic()
                gevent.sleep(max(0.0, load.paced_from + slot * seconds / count - time.monotonic()))
            name, email = load.next_booking()
            response = self.expect_2xx(
                "booking",
                "POST",
                f"/api/events/{random.choice(load.events)}/bookings",
                json={"name": name, "email": email, "send_confirmation": True},
                headers=load.auth,
            )
            if response is not None and response.status_code == 201:
                load.booked[email] = time.time()
            elif response is not None:
                load.already_booked += 1

        def check(self) -> None:
            media, channel = random.choice(load.media), random.choice(CHANNELS)
            path = f"/api/media/{media}/publishable?channel={channel}"
            self.expect_2xx("gate", "GET", path, headers=load.auth)

        def list_bookings(self) -> None:
            path = f"/api/events/{random.choice(load.events)}/bookings"
            self.expect_2xx("list", "GET", path, headers=load.auth)

        def open_page(self) -> None:
            self.expect_2xx("page", "GET", f"/events/{random.choice(load.events)}/book")

        # locust reads `tasks` when the class is made: each kind as often as its weight.
        tasks: list[TaskSet | Callable[..., Any]] = [
            *[book] * mix.get("booking", 0),
            *[check] * mix.get("gate", 0),
            *[list_bookings] * mix.get("list", 0),
            *[open_page] * mix.get("page", 0),
        ]

    return Client


# --- the server's resources, from /proc --------------------------------------------------------


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = defaultdict(list)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        tree[int(stat[stat.rindex(")") + 2 :].split()[1])].append(int(entry))
    return tree


def serve_tree() -> list[int]:
    """The `registry serve` process this bench started and all its descendants."""
    tree = _children()
    roots = []
    for pid in tree[os.getpid()]:
        try:
            args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve" in args:
            roots.append(pid)
    pids = []
    while roots:
        pid = roots.pop()
        pids.append(pid)
        roots.extend(tree.get(pid, []))
    return pids


def _status_kb(pid: int, path: str, key: str) -> int:
    try:
        for row in Path(f"/proc/{pid}/{path}").read_text().splitlines():
            if row.startswith(key + ":"):
                return int(row.split()[1])
    except OSError:
        pass
    return 0


def _fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


@dataclass(frozen=True)
class Sample:
    at: float
    processes: int
    rss_mb: float  # summed: pages shared between forked processes count once per process
    pss_mb: float  # the processes' proportional share: shared pages divided among them
    fds: int
    connections: int | None  # PostgreSQL only


def sample(database_url: str, t0: float) -> Sample:
    pids = serve_tree()
    connections = None
    if database_url.startswith("postgresql"):
        engine = create_engine(database_url, poolclass=NullPool)
        with engine.connect() as conn:
            connections = conn.execute(
                text(
                    "select count(*) from pg_stat_activity "
                    "where datname = current_database() and pid <> pg_backend_pid() "
                    "and backend_type = 'client backend'"
                )
            ).scalar_one()
        engine.dispose()
    return Sample(
        at=time.monotonic() - t0,
        processes=len(pids),
        rss_mb=sum(_status_kb(p, "status", "VmRSS") for p in pids) / 1024,
        pss_mb=sum(_status_kb(p, "smaps_rollup", "Pss") for p in pids) / 1024,
        fds=sum(_fds(p) for p in pids),
        connections=connections,
    )


def describe_sample(s: Sample) -> str:
    db = "" if s.connections is None else f", {s.connections} PostgreSQL connections"
    return (
        f"RSS {s.rss_mb:,.0f} MB (PSS {s.pss_mb:,.0f} MB) in {s.processes} processes, "
        f"{s.fds} open fds{db}"
    )


def growth(first: float, last: float) -> str:
    return f"{(last - first) / first * 100:+.1f}%" if first else "n/a"


# --- the mail server -------------------------------------------------------------------------


@dataclass
class Mailbox:
    url: str
    log: Path

    def received(self) -> list[tuple[float, str, str]]:
        """(time, recipient, subject) of every message so far."""
        try:
            rows = self.log.read_text().splitlines()
        except FileNotFoundError:
            return []
        out = []
        for row in rows:
            at, rcpt, subject = (row.split("\t", 2) + [""])[:3]
            out.append((float(at), rcpt.lower(), subject))
        return out


@contextmanager
def smtp_server(tmp: Path) -> Iterator[Mailbox]:
    port = free_port()
    log = tmp / "smtp.log"
    process = subprocess.Popen(
        [sys.executable, "-c", SMTP_SINK, str(port), str(log)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        preexec_fn=die_with_parent,
    )
    try:
        assert process.stdout is not None
        if process.stdout.readline().strip() != b"ready":
            raise RuntimeError("the SMTP server did not start")
        yield Mailbox(f"smtp://127.0.0.1:{port}", log)
    finally:
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_for_mail(mailbox: Mailbox, booked: dict[str, float]) -> None:
    """Until every booked address has mail (or MAIL_WAIT), then two more seconds for late
    duplicates; prints what arrived."""
    start = time.monotonic()
    deadline = start + MAIL_WAIT
    while time.monotonic() < deadline:
        if set(booked) <= {rcpt for _, rcpt, _ in mailbox.received()}:
            gevent.sleep(2.0)  # a duplicate would come right behind the first
            break
        gevent.sleep(0.5)
    waited = time.monotonic() - start
    mail = [m for m in mailbox.received() if m[1] in booked]
    per_address = Counter(rcpt for _, rcpt, _ in mail)
    delivered = len(per_address)
    duplicates = {a: n for a, n in per_address.items() if n > 1}
    last_booking = max(booked.values(), default=time.time())
    last_mail = max((at for at, _, _ in mail), default=None)
    print(
        f"mail: confirmations delivered {delivered} of {len(booked)} bookings made "
        f"({len(mail)} messages, waited {waited:.1f} s after the load)"
    )
    if last_mail is not None:
        print(
            f"  the last confirmation arrived {last_mail - last_booking:.1f} s "
            "after the last booking's answer"
        )
    subjects = Counter(subject for _, _, subject in mail)
    for subject, n in subjects.most_common(3):
        print(f"  subject {subject!r}: {n}")
    print(f"  addresses mailed more than once: {len(duplicates)}")
    for address, n in sorted(duplicates.items())[:20]:
        print(f"    {address}: {n} messages")
    missing = sorted(set(booked) - set(per_address))
    if missing:
        print(f"  no mail yet for {len(missing)} addresses, e.g. {', '.join(missing[:3])}")


# --- setting up ------------------------------------------------------------------------------


def api(port: int, method: str, path: str, auth: dict[str, str], body: object = None) -> Any:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {**auth, "Content-Type": "application/json"}
    conn.request(method, path, json.dumps(body) if body is not None else None, headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    if not 200 <= response.status < 300:
        raise RuntimeError(f"{method} {path}: HTTP {response.status} {data[:300]!r}")
    return json.loads(data)


def create_events(port: int, auth: dict[str, str], count: int) -> list[str]:
    starts = datetime.now(UTC) + timedelta(days=30)
    return [
        api(
            port,
            "POST",
            "/api/events",
            auth,
            {
                "name": f"Load event {n}",
                "starts_at": starts.isoformat(),
                "filming_notice": "We photograph and film this event for our newsletter.",
            },
        )["id"]
        for n in range(count)
    ]


def warm_up(port: int, load: Load) -> None:
    """One request of each kind before the clock starts (first-use imports, caches)."""
    name, email = load.next_booking()
    api(
        port,
        "POST",
        f"/api/events/{load.events[0]}/bookings",
        load.auth,
        {"name": name, "email": email},
    )
    load.booked[email] = time.time()
    api(port, "GET", f"/api/media/{load.media[0]}/publishable?channel={CHANNELS[0]}", load.auth)
    api(port, "GET", f"/api/events/{load.events[0]}/bookings", load.auth)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", f"/events/{load.events[0]}/book")
    conn.getresponse().read()
    conn.close()


def alone(port: int, load: Load, count: int = 60) -> str:
    """Bookings one at a time on an idle server (one keep-alive connection, a pause after each
    for the sender to mail it): the time one takes when nothing else runs, which is the
    server's time plus a loopback round trip."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    times = []
    for _ in range(count):
        name, email = load.next_booking()
        body = json.dumps({"name": name, "email": email})
        start = time.perf_counter()
        conn.request(
            "POST",
            f"/api/events/{load.events[-1]}/bookings",
            body,
            {**load.auth, "Content-Type": "application/json"},
        )
        answer = conn.getresponse()
        answer.read()
        times.append((time.perf_counter() - start) * 1000)
        assert answer.status == 201, answer.status
        load.booked[email] = time.time()
        time.sleep(0.15)
    conn.close()
    return (
        f"a booking alone ({count}, one at a time; badge and mail made by the sender): "
        f"p50 {percentile(times, 0.5):.1f} ms, p99 {percentile(times, 0.99):.1f} ms"
    )


def run_locust(
    port: int,
    load: Load,
    *,
    users: int,
    wait: Callable[..., float],
    mix: dict[str, int],
    seconds: float,
    every: Callable[[], None] | None = None,
    done: Callable[[], bool] | None = None,
) -> float:
    """Runs the users until `seconds` pass (or `done()`), calling `every` each SAMPLE_EVERY s;
    returns the wall time."""
    env = Environment(
        user_classes=[user_class(load, wait=wait, mix=mix)], host=f"http://127.0.0.1:{port}"
    )
    env.events.request.add_listener(load.record)  # type: ignore[no-untyped-call]
    runner = env.create_local_runner()
    try:
        start = time.monotonic()
        load.started = time.time()
        runner.start(users, spawn_rate=min(users * 10, 100))  # locust warns above 100/s
        next_sample = start + SAMPLE_EVERY
        while time.monotonic() - start < seconds and not (done and done()):
            gevent.sleep(0.2)
            if every is not None and time.monotonic() >= next_sample:
                every()
                next_sample += SAMPLE_EVERY
        elapsed = time.monotonic() - start
    finally:
        # Requests still in flight are dropped uncounted (a booking may still be made).
        runner.quit()
    return elapsed


def report(load: Load, elapsed: float) -> None:
    print(
        f"{'kind':8s} {'requests':>9s} {'req/s':>8s} {'p50 ms':>8s} {'p99 ms':>8s} "
        f"{'max ms':>8s} {'errors':>7s}"
    )
    total = errors_total = 0
    for kind in KINDS:
        times = load.latencies.get(kind, [])
        errors = sum(n for (k, _), n in load.failures.items() if k == kind)
        total += len(times)
        errors_total += errors
        if not times:
            continue
        print(
            f"{kind:8s} {len(times):9d} {len(times) / elapsed:8.1f} {percentile(times, 0.5):8.1f} "
            f"{percentile(times, 0.99):8.1f} {max(times):8.1f} {errors:7d}"
        )
    print(
        f"{'total':8s} {total:9d} {total / elapsed:8.1f} {'':26s} {errors_total:7d}   "
        f"({elapsed:.1f} s)"
    )
    print(
        "slowest: "
        + ", ".join(
            f"{k} sent at {at:.1f} s ({ms:,.0f} ms)" for k, (ms, at) in load.slowest.items()
        )
    )
    if load.already_booked:
        print(f"bookings answered 200 (already booked), not 201: {load.already_booked}")
    if load.failures:
        print("errors:")
        for (kind, what), n in load.failures.most_common():
            print(f"  {kind:8s} {what}: {n}")


def listed_bookings(port: int, load: Load) -> int:
    """Our bookings as the API lists them (every bench event), answered or not."""
    ours = set()
    for event in load.events:
        for booking in api(port, "GET", f"/api/events/{event}/bookings", load.auth):
            if booking["email"].startswith(f"load-{load.run}-"):
                ours.add(booking["email"])
    return len(ours)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=32, help="Locust users.")
    parser.add_argument("--seconds", type=float, default=40)
    parser.add_argument(
        "--server-workers",
        type=int,
        default=1,
        help="`registry serve --workers` (web processes; about one per core).",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("REGISTRY_DATABASE_URL"),
        help="Default: REGISTRY_DATABASE_URL, else SQLite in the bench's temp folder.",
    )
    parser.add_argument("--events", type=int, default=10, help="Events the bookings go to.")
    parser.add_argument("--media", type=int, default=10_000)
    parser.add_argument("--consents", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--soak", type=float, metavar="MINUTES", help="Hold --rate this long.")
    parser.add_argument("--rate", type=float, help="Requests/s in total (with --soak).")
    parser.add_argument("--smtp", action="store_true", help="Mail to an SMTP server on loopback.")
    parser.add_argument(
        "--burst",
        type=int,
        nargs="?",
        const=500,
        metavar="N",
        help="N bookings (default 500) over --burst-seconds, then their mail (implies --smtp).",
    )
    parser.add_argument("--burst-seconds", type=float, default=60)
    args = parser.parse_args()
    if args.soak is not None and not args.rate:
        parser.error("--soak needs --rate")

    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="registry-bench-load-"))
    env = bench_env(tmp)
    if args.database_url:
        env["REGISTRY_DATABASE_URL"] = args.database_url
    database_url = env["REGISTRY_DATABASE_URL"]
    # A soak outlives the default hour of a bearer token.
    env["REGISTRY_ACCESS_TOKEN_MINUTES"] = str(24 * 60)
    os.environ.update({k: v for k, v in env.items() if k.startswith("REGISTRY_")})
    migrations.upgrade(database_url)
    started = time.perf_counter()
    media = seed(database_url, args.media, args.consents, rng)
    # The gate's seed leaves a tenth of its media `pending`, with no file behind them: here
    # they would keep the clearance pool failing them through the whole run, so they wait for
    # review instead (the gate answers "not yet" for both).
    with engine_for(database_url).begin() as connection:
        connection.execute(
            text("UPDATE media SET status = 'needs_review' WHERE status = 'pending'")
        )
    engine_for(database_url).dispose()  # its pooled connection is not the server's
    print(
        f"seeded {args.media} media and {args.consents} consent requests in "
        f"{time.perf_counter() - started:.1f} s ({database_url.split(':')[0]}, {os.cpu_count()} "
        f"cores, {args.server_workers} server process(es), {args.clients} locust users)"
    )
    create_admin(env)

    with ExitStack() as stack:
        mailbox = None
        if args.smtp or args.burst is not None:
            mailbox = stack.enter_context(smtp_server(tmp))
            env["REGISTRY_SMTP_URL"] = mailbox.url
            env["REGISTRY_SMTP_ALLOW_PLAINTEXT"] = "true"
        port = stack.enter_context(server(env, args.server_workers))
        if not serve_tree():
            raise SystemExit(
                "registry serve is not running (it logs nothing here; run it by hand to see why: "
                "see BENCH_SERVER_LOG=path for its log)"
            )
        auth, _ = sign_in(port)
        load = Load(auth=auth, events=create_events(port, auth, args.events), media=media)
        warm_up(port, load)
        if args.burst is None and not args.soak:
            print(alone(port, load))
            time.sleep(3)  # the sender's confirmations of those, before the clock starts
        t0 = time.monotonic()
        idle = sample(database_url, t0)
        print(f"server idle: {describe_sample(idle)}")

        if args.burst is not None:
            load.pace = (args.burst, args.burst_seconds)
            users = max(1, min(args.clients, args.burst))
            elapsed = run_locust(
                port,
                load,
                users=users,
                wait=constant(0),
                mix={"booking": 1},
                seconds=args.burst_seconds * 3,
                done=lambda: len(load.latencies["booking"]) >= args.burst,
            )
            print(
                f"burst: {args.burst} bookings asked over {args.burst_seconds:g} s by {users} users"
            )
            report(load, elapsed)
            print(f"bookings made (201): {len(load.booked) - 1} (+1 warm-up)")
            print(f"bookings the API lists: {listed_bookings(port, load)} (warm-up included)")
        elif args.soak is not None:
            series = [sample(database_url, t0)]
            users = args.clients
            elapsed = run_locust(
                port,
                load,
                users=users,
                wait=constant_throughput(args.rate / users),
                mix={"booking": 30, "gate": 45, "list": 10, "page": 15},
                seconds=args.soak * 60,
                every=lambda: series.append(sample(database_url, t0)),
            )
            if series[-1].at < time.monotonic() - t0 - 1:
                series.append(sample(database_url, t0))
            print(f"soak: {args.soak:g} min at {args.rate:g} req/s asked, {users} users")
            report(load, elapsed)
            print(f"{'t s':>6s} {'RSS MB':>8s} {'PSS MB':>8s} {'fds':>5s} {'db conns':>8s} procs")
            for s in series:
                db = "-" if s.connections is None else str(s.connections)
                print(
                    f"{s.at:6.0f} {s.rss_mb:8.1f} {s.pss_mb:8.1f} {s.fds:5d} {db:>8s} "
                    f"{s.processes:5d}"
                )
            # From the first sample after a minute of load: the pool's processes start on the
            # first photo and the connection pools fill in the first seconds; what a leak
            # looks like is growth after that.
            warm = [s for s in series if s.at >= 60]
            first, last = (warm or series)[0], series[-1]
            print(
                f"growth {first.at:.0f} s→{last.at:.0f} s: "
                f"RSS {growth(first.rss_mb, last.rss_mb)}, "
                f"PSS {growth(first.pss_mb, last.pss_mb)}, fds {growth(first.fds, last.fds)}"
                + (
                    f", db connections {growth(first.connections, last.connections)}"
                    if first.connections is not None and last.connections is not None
                    else ""
                )
            )
        else:
            elapsed = run_locust(
                port,
                load,
                users=args.clients,
                wait=constant(0),
                mix={"booking": 30, "gate": 45, "list": 10, "page": 15},
                seconds=args.seconds,
            )
            report(load, elapsed)
        print(f"server after the load: {describe_sample(sample(database_url, t0))}")
        if mailbox is not None:
            wait_for_mail(mailbox, load.booked)


if __name__ == "__main__":
    # Ctrl-C and SIGTERM end the bench in its main greenlet, through the blocks that stop the
    # server and the mail server (Python's own handler would raise in whichever user greenlet
    # happened to run, or in gevent's hub, which prints it first).
    for signum in (signal.SIGINT, signal.SIGTERM):
        gevent.signal_handler(signum, gevent.kill, gevent.getcurrent(), KeyboardInterrupt)
    try:
        main()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
