"""A small Hugging Face Hub on 127.0.0.1 for tests, serving repositories made of local files.

It implements the routes huggingface_hub 2.4 calls for `HfApi.model_info`,
`snapshot_download` and `HfApi.verify_repo_checksums`, with the Hub's headers and errors:

- `GET /api/models/ORG/NAME[/revision/REV][?blobs=true]`: model info (commit sha, siblings; with
  blobs, their sizes, git blob ids and LFS sha256).
- `GET /api/models/ORG/NAME/tree/REV[/PATH]`: the file listing (one page).
- `HEAD|GET /ORG/NAME/resolve/REV/PATH`: a file, with `X-Repo-Commit`, `ETag` (sha256 for an
  LFS file, the git blob id otherwise) and its size; GET honours `Range`.

A revision is a branch or tag name or a commit sha. A private repository answers 401
`RepoNotFound` without a token (as the Hub does, not to reveal it exists); a token that is
not the hub's is refused on every route with 401 "Invalid credentials". Every request is
logged in `requests` so that tests can check what a client downloaded.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

LFS_THRESHOLD = 1 << 20
"""Files this large are stored in LFS (listed with a sha256); smaller ones in git."""


@dataclass(frozen=True)
class HubFile:
    path: Path
    """Where the served bytes are."""
    size: int
    blob_id: str
    """Git blob sha1 of the content (of the LFS pointer, for an LFS file)."""
    sha256: str | None
    """LFS files only."""

    @property
    def etag(self) -> str:
        return self.sha256 or self.blob_id


@dataclass
class HubRepo:
    repo_id: str
    commits: dict[str, dict[str, HubFile]]
    """Commit sha -> repository path -> file."""
    refs: dict[str, str]
    """Branch or tag -> commit sha."""
    private: bool = False


def _git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def hub_file(path: Path) -> HubFile:
    data = path.read_bytes()
    if len(data) < LFS_THRESHOLD:
        return HubFile(path, len(data), _git_blob_id(data), None)
    sha256 = hashlib.sha256(data).hexdigest()
    pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {len(data)}\n"
    return HubFile(path, len(data), _git_blob_id(pointer.encode()), sha256)


def commit_sha(files: Mapping[str, HubFile]) -> str:
    """A commit id that depends on the content, like git's."""
    listing = json.dumps({path: f.etag for path, f in sorted(files.items())})
    return hashlib.sha1(listing.encode()).hexdigest()


@dataclass
class Hub:
    token: str = "hf_test_token_0123456789"
    repos: dict[str, HubRepo] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    """(method, path) of every request, in order."""

    def add_repo(
        self,
        repo_id: str,
        revisions: Mapping[str, Mapping[str, Path]],
        *,
        private: bool = False,
        tampered: frozenset[str] = frozenset(),
        work: Path,
    ) -> dict[str, str]:
        """Add a repository; `revisions` maps each ref (the first is also `main` unless one
        is named so) to repository path -> local file. A `tampered` path is listed with its
        true hashes but served with one byte flipped. Returns ref -> commit sha."""
        repo = HubRepo(repo_id, {}, {}, private)
        for ref, files in revisions.items():
            listed = {name: hub_file(source) for name, source in files.items()}
            commit = commit_sha(listed)
            repo.commits[commit] = {
                name: _tamper(entry, work / commit / name) if name in tampered else entry
                for name, entry in listed.items()
            }
            repo.refs[ref] = commit
        repo.refs.setdefault("main", repo.refs[next(iter(revisions))])
        self.repos[repo_id] = repo
        return dict(repo.refs)

    def downloaded(self, repo_id: str) -> list[str]:
        """Repository paths fetched (GET) from `repo_id`, in order."""
        prefix = f"/{repo_id}/resolve/"
        return [
            path.removeprefix(prefix).partition("/")[2]
            for method, path in self.requests
            if method == "GET" and path.startswith(prefix)
        ]

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._log_and_authenticate])
        app.router.add_get("/api/models/{org}/{name}", self._model_info)
        app.router.add_get("/api/models/{org}/{name}/revision/{revision}", self._model_info)
        app.router.add_get("/api/models/{org}/{name}/tree/{revision}", self._tree)
        app.router.add_get("/api/models/{org}/{name}/tree/{revision}/{path:.+}", self._tree)
        app.router.add_route("*", "/{org}/{name}/resolve/{revision}/{path:.+}", self._resolve)
        return app

    @web.middleware
    async def _log_and_authenticate(
        self, request: web.Request, handler: web.RequestHandler
    ) -> web.StreamResponse:
        self.requests.append((request.method, request.path))
        authorization = request.headers.get("Authorization")
        if authorization is not None and authorization != f"Bearer {self.token}":
            message = "Invalid credentials in Authorization header"
            raise web.HTTPUnauthorized(
                text=json.dumps({"error": message}),
                content_type="application/json",
                headers={"X-Error-Message": message},
            )
        return await handler(request)

    def _snapshot(self, request: web.Request) -> tuple[HubRepo, str, dict[str, HubFile]]:
        repo_id = f"{request.match_info['org']}/{request.match_info['name']}"
        repo = self.repos.get(repo_id)
        if repo is None or (repo.private and "Authorization" not in request.headers):
            raise _hub_error(web.HTTPUnauthorized, "RepoNotFound", "Repository not found")
        revision = request.match_info.get("revision", "main")
        commit = repo.refs.get(revision, revision)
        if commit not in repo.commits:
            raise _hub_error(web.HTTPNotFound, "RevisionNotFound", f"Invalid rev id: {revision}")
        return repo, commit, repo.commits[commit]

    async def _model_info(self, request: web.Request) -> web.Response:
        repo, commit, files = self._snapshot(request)
        blobs = request.query.get("blobs", "").lower() == "true"
        siblings = [
            {"rfilename": path, **(_blob_fields(entry) if blobs else {})}
            for path, entry in sorted(files.items())
        ]
        return web.json_response(
            {
                "id": repo.repo_id,
                "modelId": repo.repo_id,
                "sha": commit,
                "private": repo.private,
                "siblings": siblings,
            }
        )

    async def _tree(self, request: web.Request) -> web.Response:
        _, _, files = self._snapshot(request)
        under = request.match_info.get("path", "").strip("/")
        prefix = f"{under}/" if under else ""
        recursive = request.query.get("recursive", "").lower() == "true"
        entries: list[dict[str, object]] = []
        folders: set[str] = set()
        for path, entry in sorted(files.items()):
            if not path.startswith(prefix):
                continue
            rest = path.removeprefix(prefix)
            if "/" in rest and not recursive:
                folders.add(prefix + rest.partition("/")[0])
                continue
            item: dict[str, object] = {
                "type": "file",
                "path": path,
                "size": entry.size,
                "oid": entry.blob_id,
            }
            if entry.sha256:
                item["lfs"] = {"oid": entry.sha256, "size": entry.size, "pointerSize": 134}
            entries.append(item)
        entries += [{"type": "directory", "path": p, "oid": "0" * 40, "size": 0} for p in folders]
        return web.json_response(entries)

    async def _resolve(self, request: web.Request) -> web.StreamResponse:
        _, commit, files = self._snapshot(request)
        entry = files.get(request.match_info["path"])
        if entry is None:
            raise _hub_error(web.HTTPNotFound, "EntryNotFound", "Entry not found")
        headers = {"X-Repo-Commit": commit, "ETag": f'"{entry.etag}"', "Accept-Ranges": "bytes"}
        if request.method == "HEAD":
            return web.Response(headers={**headers, "Content-Length": str(entry.size)})
        if request.method != "GET":
            raise web.HTTPMethodNotAllowed(request.method, ["GET", "HEAD"])
        return web.FileResponse(entry.path, headers={"X-Repo-Commit": commit})


def _blob_fields(entry: HubFile) -> dict[str, object]:
    fields: dict[str, object] = {"size": entry.size, "blobId": entry.blob_id}
    if entry.sha256:
        fields["lfs"] = {"sha256": entry.sha256, "size": entry.size, "pointerSize": 134}
    return fields


def _hub_error(kind: type[web.HTTPException], code: str, message: str) -> web.HTTPException:
    return kind(
        text=json.dumps({"error": message}),
        content_type="application/json",
        headers={"X-Error-Code": code, "X-Error-Message": message},
    )


def _tamper(entry: HubFile, copy: Path) -> HubFile:
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(entry.path, copy)
    with copy.open("r+b") as out:
        first = out.read(1)
        out.seek(0)
        out.write(bytes([first[0] ^ 0xFF]))
    return HubFile(copy, entry.size, entry.blob_id, entry.sha256)


@dataclass
class ServedApp:
    url: str
    """http://127.0.0.1:PORT"""


def serve_in_thread(app: web.Application) -> Iterator[ServedApp]:
    """Run `app` on 127.0.0.1 (a free port) in a thread of its own until the generator closes:
    for clients that are synchronous code (huggingface_hub, the fetch-model command)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    runner = web.AppRunner(app, access_log=None)

    async def start() -> str:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        return f"http://{host}:{port}"

    url = asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=30)
    try:
        yield ServedApp(url)
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()
