"""A file to download: attachment, never cached (exports, receipts, badges hold personal data)."""

from __future__ import annotations

from fastapi.responses import Response


def attachment(data: bytes, media_type: str, filename: str) -> Response:
    return Response(
        data,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )
