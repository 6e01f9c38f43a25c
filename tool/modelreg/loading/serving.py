"""Hot reload for serving: follow NAME@ALIAS on main and swap models without a gap.

A ServingManager loads REF once, then polls main cheaply (one `git ls-remote` for a remote
registry, a ref-file read for a local one). When main moves and REF now resolves to another
version, the new one is loaded in the background thread while the old keeps serving; the
swap is one reference assignment under a lock. The old model leaves the loader's cache but is
never emptied under a request: one that took it finishes on it, and its memory goes with the
last reference (with `use()`, the unload waits for the last request). Any failure to load or
build the new version (a missing file, corrupt safetensors, a shape mismatch) leaves the old
model serving and is recorded as a "failed" event; the watcher never stops for it.

    manager = ServingManager("llama-ft@production", registry=URL, device="cuda").start()
    with manager.use() as loaded:      # one request
        loaded.generate(prompt)

With `feed=True` the manager polls the signed alias feed on the weights remote instead (one
conditional GET; fleet/feed.py) and reads Git only when the feed names a new commit. A feed is
followed only if a key registry.yaml's feed.publishers names (main as this host sees it)
signed it, its commit is on main's first-parent history (fetched once if this host has not
seen it), it is not older than the feed the host already follows, and its version for REF is
the one Git says at that commit; otherwise it is refused with a warning and the manager polls
Git as without a feed. With `environment=` each load and swap is reported to the remote
(fleet/deployments.py), which `modelreg deployments` reads.
"""
import logging
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from ..core.errors import ExternalError, IntegrityError, NotFound, PolicyViolation, RegistryError
from ..core.refs import parse_ref
from ..fleet import deployments
from ..fleet import feed as fleet_feed
from . import sources

log = logging.getLogger(__name__)


@dataclass
class Event:
    kind: str  # "loaded", "swapped", "failed"
    ref: str
    old: str | None
    new: str | None
    commit: str | None
    seconds: float = 0.0
    error: str | None = None
    at: float = field(default_factory=time.time)
    via: str = "git"  # what told the host: "git", or the signed "feed"

    def line(self) -> str:
        if self.kind == "failed":
            return f"kept {self.old}: could not load {self.new or self.ref}: {self.error}"
        if self.kind == "loaded":
            return f"serving {self.new} for {self.ref} (commit {self.commit[:12]}, {self.seconds:.1f}s)"
        return f"swapped {self.old} -> {self.new} for {self.ref} (commit {self.commit[:12]}, {self.seconds:.1f}s)"


class ServingManager:
    def __init__(self, ref: str, registry=None, device: str = "auto", dtype=None, interval: float = 30.0,
                 allow_pickle: bool = False, on_event=None, retry_after: float | None = None,
                 feed: bool = False, environment: str | None = None, host: str | None = None):
        self.target = parse_ref(ref)
        self.ref = ref
        self.registry = sources.open_registry(registry, refresh=True)
        self.device, self.dtype, self.allow_pickle = device, dtype, allow_pickle
        self.interval = float(interval)
        # a version that failed to load is tried again only after this long (or when REF moves)
        self.retry_after = 10 * self.interval if retry_after is None else float(retry_after)
        self.on_event = on_event
        self.events: list[Event] = []
        self.last_error: str | None = None
        self._current = None
        self._seen_head: str | None = None
        self._failed: tuple | None = None
        self._lock = threading.Lock()
        self._leases: dict[int, int] = {}  # id(LoadedModel) -> requests using it now
        self._retired: list = []  # swapped out, waiting for their last request
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.environment = environment and deployments.check_name(environment, "environment")
        self.host = deployments.check_name(host or socket.gethostname(), "host") if environment else host
        self.follower = fleet_feed.Follower(self._store) if feed else None
        self.feed_commit: str | None = None  # the verified feed's commit this host follows
        self.feed_error: str | None = None  # why the feed was last refused or unreachable
        self.report_error: str | None = None
        self._stores: list = []

    # -- what requests use ------------------------------------------------------------
    @property
    def current(self):
        """The LoadedModel serving now (take `.model` once per request)."""
        with self._lock:
            return self._current

    @contextmanager
    def use(self):
        """The serving LoadedModel for one request: a swap meanwhile neither empties nor unloads it."""
        with self._lock:
            loaded = self._current
            self._leases[id(loaded)] = self._leases.get(id(loaded), 0) + 1
        try:
            yield loaded
        finally:
            with self._lock:
                left = self._leases.pop(id(loaded)) - 1
                if left:
                    self._leases[id(loaded)] = left
                done = not left and any(r is loaded for r in self._retired)
                if done:
                    self._retired = [r for r in self._retired if r is not loaded]
            if done:
                _drop(loaded)

    def _retire(self, old) -> None:
        """Unload a swapped-out model now, or when the last request using it ends."""
        with self._lock:
            busy = self._leases.get(id(old), 0) > 0
            if busy:
                self._retired.append(old)
        if not busy:
            _drop(old)

    @property
    def swaps(self) -> list[Event]:
        return [e for e in self.events if e.kind == "swapped"]

    # -- lifecycle --------------------------------------------------------------------
    def start(self, background: bool = True) -> "ServingManager":
        """Load REF now (errors raise: there is nothing to serve), then watch in a thread."""
        started = time.perf_counter()
        commit = self._feed_poll()[0] if self.follower is not None else None
        if commit is None:
            self._seen_head = sources.head_of(self.registry)
        loaded = self._load(at=commit)
        with self._lock:
            self._current = loaded
        via = "git" if commit is None else "feed"
        self._record(Event("loaded", self.ref, None, _name(loaded), loaded.commit,
                           time.perf_counter() - started, via=via), loaded)
        if background:
            self._thread = threading.Thread(target=self._run, name=f"modelreg-watch {self.ref}", daemon=True)
            self._thread.start()
        return self

    def stop(self, unload: bool = True) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if unload and self._current is not None:
            with self._lock:
                old, self._current = self._current, None
            self._retire(old)
        for store in self._stores:
            store.close()
        self._stores.clear()

    def wait(self, timeout: float | None = None) -> None:
        """Block until stopped (the CLI's `watch`)."""
        self._stop.wait(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.poll()
            except Exception as exc:  # never let the watcher die: the old model keeps serving
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("watch of %s failed; will retry", self.ref)

    # -- one poll ---------------------------------------------------------------------
    def poll(self) -> bool:
        """Check the feed (if followed) or main once; swap if REF now names another version.
        True if it swapped."""
        if self.follower is not None:
            commit, changed = self._feed_poll()
            if commit is not None:
                if not changed and not self._retry_due():
                    return False
                return self._move(commit, commit, "feed")
        head = sources.head_of(self.registry)
        if head == self._seen_head and not self._retry_due():
            return False
        if head != self._seen_head:
            sources.refresh(self.registry)
        self._seen_head = head
        return self._move(head, None, "git")

    def _move(self, head: str, at: str | None, via: str) -> bool:
        """Load what REF names at `at` (None: main) if it is not what serves now."""
        try:
            target = self.registry.resolve(self.ref, at=at)
        except RegistryError as exc:
            return self._failed_load(None, head, exc)
        name = f"{target.model}@{target.version}"
        current = self.current
        if current is not None and name == _name(current):
            return False
        if self._failed and self._failed[0] == name and not self._retry_due():
            return False  # known broken: not reloaded on every unrelated commit
        started = time.perf_counter()
        try:
            new = self._load(at=target.commit)
        except Exception as exc:  # noqa: BLE001 - any failure to build keeps the old model serving
            return self._failed_load(name, head, exc)
        with self._lock:
            old, self._current = self._current, new
        self._failed = None
        self.last_error = None
        self._record(Event("swapped", self.ref, _name(old), name, new.commit, time.perf_counter() - started,
                           via=via), new)
        if old is not None and old is not new:
            self._retire(old)
        return True

    def _load(self, at: str | None = None):
        from .loader import load

        return load(self.ref, registry=self.registry, device=self.device, dtype=self.dtype, at=at,
                    allow_pickle=self.allow_pickle)

    def _retry_due(self) -> bool:
        return self._failed is not None and time.monotonic() - self._failed[1] >= self.retry_after

    def _failed_load(self, name, head, exc) -> bool:
        self._failed = (name, time.monotonic())
        self.last_error = str(exc) if isinstance(exc, RegistryError) else f"{type(exc).__name__}: {exc}"
        self._record(Event("failed", self.ref, _name(self.current), name, head, error=self.last_error))
        return False

    def _record(self, event: Event, loaded=None) -> None:
        self.events.append(event)
        (log.warning if event.kind == "failed" else log.info)("%s", event.line())
        if loaded is not None and self.environment:
            self._report(loaded, event)
        if self.on_event is not None:
            self.on_event(event)

    # -- the fleet: the feed and deployment records ----------------------------------------
    def _store(self):
        """The weights remote as main names it (held open: one client for every poll)."""
        if not self._stores:
            from ..artifacts.remote import open_store
            from .weights import remote_at

            self._stores.append(open_store(remote_at(self.registry.at(), self.registry.root), jobs=1))
        return self._stores[0]

    def _feed_poll(self) -> tuple[str | None, bool]:
        """(the commit a verified feed names, whether it changed); (None, False): follow Git."""
        try:
            data = self.follower.poll()
            if data is None:
                return self.feed_commit, False
            commit = self._accept(data)
        except ExternalError as exc:  # unreachable: retried whole at the next poll
            self.follower.etag = None
            return self._feed_refused(f"feed unreachable ({exc})")
        except RegistryError as exc:
            self.feed_commit = None  # refused: Git until a new feed comes (the old ETag keeps 304ing)
            return self._feed_refused(f"feed refused ({exc})")
        changed, self.feed_commit, self.feed_error = commit != self.feed_commit, commit, None
        return commit, changed

    def _feed_refused(self, why: str) -> tuple[None, bool]:
        if why != self.feed_error:
            log.warning("%s: %s; following Git", self.ref, why)
        self.feed_error = why
        return None, False

    def _accept(self, data: bytes) -> str:
        """The feed's commit, if this host can trust it (see the module's docstring)."""
        try:
            feed = fleet_feed.verify(data, self.registry.at().settings.feed)
        except (IntegrityError, PolicyViolation):
            sources.refresh(self.registry)  # registry.yaml may have rotated the publishers since
            feed = fleet_feed.verify(data, self.registry.at().settings.feed)
        try:
            self.registry.require_on_main(feed.commit, feed.commit)
        except (PolicyViolation, NotFound):
            sources.refresh(self.registry)  # published after this host last fetched
            self.registry.require_on_main(feed.commit, feed.commit)
        if self.feed_commit and feed.commit != self.feed_commit and self.registry.git.is_ancestor(
                feed.commit, self.feed_commit):
            raise IntegrityError(f"the feed names {feed.commit[:10]}, older than {self.feed_commit[:10]} "
                                 "it named before (a replayed feed)")
        if self.target.alias not in (None, "latest"):
            said = feed.alias(self.target.model, self.target.alias)
            truth = self.registry.aliases(self.target.model, at=feed.commit).get(self.target.alias)
            if said != truth:
                raise IntegrityError(f"the feed says {self.target.model}@{self.target.alias} is {said}, "
                                     f"Git says {truth} at {feed.commit[:10]}")
        return feed.commit

    def _report(self, loaded, event: Event) -> None:
        """Tell the remote what this host serves now; a failure never stops serving."""
        try:
            deployments.report(self._store(), self.environment, self.host,
                               deployments.entry(self.ref, loaded.resolved, event.via))
            self.report_error = None
        except RegistryError as exc:
            self.report_error = str(exc)
            log.warning("could not report %s to the remote: %s", event.new, exc)


def _drop(loaded) -> None:
    from .loader import unload

    unload(loaded, empty=False)


def _name(loaded) -> str | None:
    return f"{loaded.resolved['model']}@{loaded.resolved['version']}" if loaded is not None else None
