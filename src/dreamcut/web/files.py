"""The board's media routes: it serves media and nothing else.

    GET  /thumb/{take}.jpg       a small poster (made on demand, cached)
    GET  /proxy/{take}.mp4       a card's low-res looping proxy (made on demand, cached)
    GET  /proxy/play/{take}.mp4  a take's playback proxy: every frame, full length (the edit room plays these)
    GET  /media/take/{take}      the full take (only the compare view asks for it)
    GET  /media/song             the song (the timeline's clock when it plays takes in sequence)
    GET  /files/{path}           other project media (contact sheets, renders), inside the project only
    GET  /static/{name}          the page's script and style
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

from dreamcut.web import media as board_media
from dreamcut.web.state import Board

HERE = Path(__file__).resolve().parent


def routes(board: Board) -> APIRouter:
    api = APIRouter()
    cache = board.project.cache_dir

    def cached(make, take_id: str, media_type: str) -> FileResponse:
        """A file made from the take once (poster, proxy) and kept an hour by the browser."""
        return FileResponse(make(cache, take_id, board.take_file(take_id)), media_type=media_type,
                            headers={"Cache-Control": "max-age=3600"})

    @api.get("/thumb/{take_id}.jpg")
    def thumb(take_id: str) -> FileResponse:
        return cached(board_media.ensure_poster, take_id, "image/jpeg")

    @api.get("/proxy/{take_id}.mp4")
    def proxy(take_id: str) -> FileResponse:
        return cached(board_media.ensure_proxy, take_id, "video/mp4")

    @api.get("/proxy/play/{take_id}.mp4")
    def play_proxy(take_id: str) -> FileResponse:
        return cached(board_media.ensure_play_proxy, take_id, "video/mp4")

    @api.get("/media/take/{take_id}")
    def full_take(take_id: str) -> FileResponse:
        return FileResponse(board.take_file(take_id), media_type="video/mp4")

    @api.get("/media/song")
    def song_file() -> FileResponse:
        try:
            song = board.project.song_path
        except Exception:
            raise HTTPException(404, "the spec names no song") from None
        if not board.project.inside(song) or not song.resolve().is_file():
            raise HTTPException(404, "song not found inside the project")
        return FileResponse(song.resolve())

    @api.get("/files/{rel:path}")
    def project_file(rel: str) -> FileResponse:
        resolved = board.media_file(rel)
        if resolved is None:
            raise HTTPException(404, "not found")
        return FileResponse(resolved)

    @api.get("/static/{name}")
    def static(name: str) -> FileResponse:
        path = (HERE / "static" / name).resolve()
        if path.parent != (HERE / "static").resolve() or not path.is_file():
            raise HTTPException(404, "not found")
        return FileResponse(path, headers={"Cache-Control": "max-age=600"})

    return api
