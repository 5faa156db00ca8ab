"""The OpenAPI description of ``POST /predict``: its two request bodies and every status it answers;
and what the docs pages' routes answer (docs_pages.py).

FastAPI cannot infer these (the route reads the request itself, to accept two content types and to
bound decoding), so they are written out here and attached to the route. ``GET /openapi.json``
serves the whole description; schemathesis drives the test suite's fuzzing from it.
"""

MAX_INPUTS_PER_REQUEST = 256

_DETAIL = {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]}
_ERROR = {"application/json": {"schema": _DETAIL}}

PREDICT_BODIES = {
    "requestBody": {
        "required": True,
        "description": "an image upload, or already preprocessed network inputs",
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary",
                                            "description": "PNG, JPEG, BMP, GIF, WebP or TIFF"}},
                    "required": ["file"],
                },
            },
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {"inputs": {
                        "type": "array", "minItems": 1, "maxItems": MAX_INPUTS_PER_REQUEST,
                        "description": "arrays of the model's input shape (C, H, W), finite, normalised",
                        "items": {"type": "array", "items": {}},
                    }},
                    "required": ["inputs"],
                },
            },
        },
    },
}

PREDICT_ERRORS = {
    400: {"description": "not valid JSON, a malformed multipart body, no field 'file', an image that "
                         "cannot be decoded or is over the pixel limit, or a Host not allowed", "content": _ERROR},
    408: {"description": "the request body stalled for longer than the read timeout", "content": _ERROR},
    413: {"description": "the body is over the size limit", "content": _ERROR},
    415: {"description": "a content type other than multipart/form-data or application/json, or an "
                         "image format outside the accepted ones", "content": _ERROR},
    422: {"description": "inputs of the wrong form, shape or range; explain=1 with more than one input; "
                         "a top_k or explain that is not an integer", "content": _ERROR},
    503: {"description": "the queue is full (Retry-After: 1) or the service is shutting down (Retry-After: 5)",
          "content": _ERROR},
}

_NOT_DOCS = {
    404: {"description": "no such page or figure: the pages are those of docs/README.md's table, the figures "
                         "those they show; or the docs are not installed here (the detail says how to get them)",
          "content": _ERROR},
    307: {"description": "the docs are not installed here and $STRIDED_DOCS_URL is set: the same name under it"},
}
DOCS_PAGE_RESPONSES = {200: {"description": "the page as HTML (as its markdown, text/plain, without markdown-it-py)",
                             "content": {"text/html": {"schema": {"type": "string"}},
                                         "text/plain": {"schema": {"type": "string"}}}}, **_NOT_DOCS}
DOCS_FIGURE_RESPONSES = {200: {"description": "the figure", "content": {"image/png": {"schema": {
    "type": "string", "format": "binary"}}}}, **_NOT_DOCS}
