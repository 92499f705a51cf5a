"""Files attached to a prompt, made ready to keep and to send (issue 22): the type read from the
content (`kinds.py`), a picture re-encoded small and without its metadata (`images.py`), a
document's text (`documents.py`), and the one entry point with the limits (`intake.py`).

Everything here refuses hostile input with an `InputError` that names the file: an upload is
untrusted bytes, whatever its name or the browser said about it."""
