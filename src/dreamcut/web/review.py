"""The review half of the board: the page (shots x takes, server-rendered for a fast first
paint), ratings / status / notes / tags written at once, changes polled by other tabs, and the
background jobs (preview more variants, promote, re-render).

    GET  /                       the board
    GET  /api/board              every take with its review, and the selections
    GET  /api/changes?since=T    reviews and selections changed since T (tabs poll this)
    POST /api/review/{take}      rating / status / note / tags of one take, written at once
    POST /api/jobs               preview more variants, promote, re-render (background jobs)
    GET  /api/jobs               the jobs this board started
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import StreamingResponse

from dreamcut.web.http import json_object
from dreamcut.web.room import EditRoom
from dreamcut.web.state import Board

HERE = Path(__file__).resolve().parent
STATUS_VALUES = (None, "selected", "rejected")
MAX_NOTE = 4000
MAX_TAGS = 20


def review_fields(body: dict[str, Any]) -> dict[str, Any]:
    """The review fields of a request body, checked (422 with the rule broken)."""
    fields: dict[str, Any] = {}
    if "rating" in body:
        rating = body["rating"]
        if rating is not None and (not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5):
            raise HTTPException(422, "rating must be 1..5 or null")
        fields["rating"] = rating
    if "status" in body:
        if body["status"] not in STATUS_VALUES:
            raise HTTPException(422, "status must be selected, rejected or null")
        fields["status"] = body["status"]
    if "note" in body:
        if not isinstance(body["note"], str) or len(body["note"]) > MAX_NOTE:
            raise HTTPException(422, f"note must be text of at most {MAX_NOTE} characters")
        fields["note"] = body["note"]
    if "tags" in body:
        tags = body["tags"]
        if not isinstance(tags, list) or len(tags) > MAX_TAGS or not all(isinstance(t, str) and 0 < len(t) <= 40
                                                                         for t in tags):
            raise HTTPException(422, f"tags must be a list of at most {MAX_TAGS} short texts")
        fields["tags"] = sorted({t.strip() for t in tags if t.strip()})
    return fields


def set_review(board: Board, take_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """Write one take's review; selecting it steps the shot's previously selected take back."""
    fields = review_fields(body)
    catalog = board.catalog
    with board.lock, catalog.transaction():
        take = catalog.take(take_id)
        if take is None:
            raise HTTPException(404, "no such take")
        selected_before = board.selections().get(take.shot_id)
        if fields.get("status") == "selected":
            # One selected take per shot: the previous one steps back to unreviewed status.
            if selected_before and selected_before != take_id:
                catalog.set_review(selected_before, status=None)
            catalog.select(take.shot_id, take_id)
        elif "status" in fields and selected_before == take_id:
            catalog.unselect(take.shot_id, take_id)
        return catalog.set_review(take_id, **fields)


def changes(board: Board, since: float) -> dict[str, Any]:
    with board.lock:
        reviews = board.catalog.reviews_since(since)
        now = max(board.catalog.review_clock(), since)
        count = board.catalog.count_takes()
    return {"now": now, "reviews": reviews, "selections": board.selections(), "takes": count}


def start_job(board: Board, action: str, shot: str | None, variants: list[int] | int | None,
              confirm: bool = False) -> dict[str, Any]:
    """Run `dreamcut preview|promote|render` for this project as a child process (isolated, and
    durable through the catalog: a board restart loses only the log tail, never the work)."""
    cmd = [sys.executable, "-m", "dreamcut", "--project", str(board.root), "--quiet"]
    if action == "preview":
        n = variants if isinstance(variants, int) else 8
        if n not in (4, 8, 16, 32) or not shot:
            raise HTTPException(422, "preview needs a shot and variants of 4, 8, 16 or 32")
        cmd += ["preview", shot, "--variants", str(n)]
    elif action == "promote":
        if not shot or not isinstance(variants, list) or not variants or not all(isinstance(v, int) for v in variants):
            raise HTTPException(422, "promote needs a shot and a list of variant numbers")
        if shot not in board.shot_ids():
            raise HTTPException(404, "no such shot")
        from dreamcut.preview import unpreviewed

        with board.lock:
            never = unpreviewed(board.project, shot, variants)
        if never and not confirm:
            # The board asks the director first (409 + `confirm`); the CLI prints a warning line.
            raise HTTPException(409, f"{shot} variant(s) {', '.join(map(str, never))} were never previewed: "
                                     "promote anyway?")
        cmd += ["promote", shot, *[str(v) for v in variants]]
    elif action == "render":
        cmd += ["render"]
    else:
        raise HTTPException(422, "action must be preview, promote or render")
    if shot is not None and shot not in board.shot_ids():
        raise HTTPException(404, "no such shot")
    job_id = uuid.uuid4().hex[:12]
    job = {"id": job_id, "action": action, "shot": shot, "state": "running", "started_at": time.time(),
           "finished_at": None, "exit_code": None, "log": ""}
    board.jobs[job_id] = job
    env = dict(os.environ)
    package_parent = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = package_parent + os.pathsep + env.get("PYTHONPATH", "")

    from dreamcut._startup import crash_line

    def work() -> None:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(board.root))
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-8:]
        crashed = crash_line(proc.returncode, f"dreamcut {action}")
        if crashed:  # a native crash: one clear line, not a stack dump
            tail = [crashed]
        job.update(state="done" if proc.returncode == 0 else "failed", exit_code=proc.returncode,
                   finished_at=time.time(), log="\n".join(tail).replace(str(Path.home()), "~"))

    threading.Thread(target=work, daemon=True, name=f"board-job-{job_id}").start()
    return job


def _chunked(parts, size: int = 32_768):
    buf: list[str] = []
    n = 0
    for part in parts:
        buf.append(part)
        n += len(part)
        if n >= size:
            yield "".join(buf).encode()
            buf, n = [], 0
    if buf:
        yield "".join(buf).encode()


def routes(board: Board, room: EditRoom) -> APIRouter:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    templates = Environment(loader=FileSystemLoader(str(HERE / "templates")), autoescape=select_autoescape(),
                            trim_blocks=True, lstrip_blocks=True)
    api = APIRouter()

    @api.get("/")
    def index() -> StreamingResponse:
        from dreamcut.analysis.video.defects import DEFECT_KINDS

        with board.lock:
            rows = board.catalog.board_takes()
            shots = board.catalog.shot_rows()
        by_shot: dict[str, list] = {s.id: [] for s in shots}
        for r in rows:
            by_shot.setdefault(r.shot_id, []).append(r)
        sheets = {sid: (board.project.previews_dir / sid / "contact_sheet.png").is_file() for sid in by_shot}
        edit = room.edit()
        parts = templates.get_template("board.html").generate(
            title=board.project.spec.title, shots=shots, by_shot=by_shot, selections=board.selections(),
            sheets=sheets, total=len(rows), now=changes(board, 0.0)["now"], usage=room.usage(edit),
            source=edit["source"], defect_kinds=DEFECT_KINDS)
        # Streamed in ~32 kB pieces: the browser paints the header and the first shots while the
        # rest of a 700-take board is still being rendered and sent.
        return StreamingResponse(_chunked(parts), media_type="text/html; charset=utf-8",
                                 headers={"Cache-Control": "no-store"})

    @api.get("/api/board")
    def api_board() -> dict:
        with board.lock:
            shots = [asdict(s) for s in board.catalog.shot_rows()]
            takes = [asdict(t) for t in board.catalog.board_takes()]
        return {"shots": shots, "takes": takes, "selections": board.selections(), "now": changes(board, 0.0)["now"]}

    @api.get("/api/changes")
    def api_changes(since: float = 0.0) -> dict:
        return changes(board, since)

    @api.post("/api/review/{take_id}")
    async def api_review(take_id: str, request: Request) -> dict:
        body = await json_object(request)
        import anyio

        return await anyio.to_thread.run_sync(set_review, board, take_id, body)

    @api.post("/api/jobs")
    async def api_jobs_start(request: Request) -> dict:
        body = await json_object(request)
        return start_job(board, str(body.get("action")), body.get("shot"), body.get("variants"),
                         confirm=body.get("confirm") is True)

    @api.get("/api/jobs")
    def api_jobs() -> list:
        return sorted(board.jobs.values(), key=lambda j: j["started_at"], reverse=True)

    return api
