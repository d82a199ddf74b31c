"""Walking a Telegram Desktop export (result.json) without loading it: chats and messages.

Telegram Desktop writes two shapes (Telegram/SourceFiles/export/output/
export_output_json.cpp in tdesktop):
- one chat ("Export chat history"): `{"name", "type", "id", "messages": [...]}`;
- the whole account ("Export Telegram data"): `{"about", "personal_information", ...,
  "chats": {"about", "list": [chat, ...]}, "left_chats": {"about", "list": [...]}}`,
  each chat shaped as above.
It always writes a chat's name, type and id before its messages, so a chat's id is known
when its messages stream past; a file that puts `messages` first is refused (the post ids
need the chat id, and holding the messages back would need memory in proportion to them).

Speed: a one-chat export (the common case, and the largest files) is read with ijson's C
`items`, which builds each message in C; a full export needs the chat boundaries, so its
events go through a Python loop, about three times slower.

Bytes that are not UTF-8 would stop ijson (yajl) at the first one and lose the rest of the
file. `Utf8Guard` replaces them by U+FFFD on the way in and remembers which read they were
in; the reader rejects the one message that holds them and keeps the others.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import ijson

from trollscope.errors import FormatError
from trollscope.ingest.readers.base import open_input, raw_position
from trollscope.ingest.readers.jsonevents import document_values, shallow_parse

BOM = b"\xef\xbb\xbf"
REPLACEMENT = "\ufffd"
CHUNK = 64 * 1024

# The chat types Telegram Desktop writes (TypeString in export_output_json.cpp).
CHANNEL_TYPES = frozenset(
    {"public_channel", "private_channel", "public_supergroup", "private_supergroup"}
)
PERSONAL_TYPES = frozenset({"personal_chat", "bot_chat", "saved_messages", "replies"})
CHAT_TYPES = CHANNEL_TYPES | PERSONAL_TYPES | {"private_group"}
# Top-level keys only a full export has.
FULL_EXPORT_KEYS = frozenset(
    {
        "personal_information",
        "profile_pictures",
        "stories",
        "contacts",
        "frequent_contacts",
        "sessions",
        "web_sessions",
        "other_data",
        "chats",
        "left_chats",
    }
)
CHAT_LISTS = ("chats.list.item", "left_chats.list.item")
EXPECTED = "expected a Telegram Desktop export (result.json, machine-readable JSON)"
_BARE_ID = re.compile(r"-?[0-9]+")


def _incomplete_tail(data: bytes) -> int:
    """How many bytes at the end of `data` start a UTF-8 sequence that the next read ends."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte < 0x80:
            return 0
        if byte >= 0xC0:
            need = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return back if need > back else 0
    return 0


class Utf8Guard:
    """A binary file for ijson whose bytes are always valid UTF-8 (see the module doc).

    `reads` counts the reads so far; `dirty_read` is the number of the last read in
    which bytes were replaced (0: none yet).
    """

    def __init__(self, handle: IO[bytes]) -> None:
        self._handle = handle
        self._carry = b""
        self._first = True
        self.reads = 0
        self.dirty_read = 0
        # Bytes of the file consumed (compressed bytes for gzip), kept after it closes.
        self.position = 0

    def read(self, size: int = -1) -> bytes:
        # ijson reads 0 bytes first to learn whether the stream gives bytes or text.
        if size == 0:
            return b""
        while True:
            data = self._handle.read(size if size > 0 else CHUNK)
            self.position = raw_position(self._handle)
            at_end = not data
            if self._first:
                self._first = False
                data = data.removeprefix(BOM)
            data, self._carry = self._carry + data, b""
            if not at_end:
                tail = _incomplete_tail(data)
                if tail:
                    data, self._carry = data[:-tail], data[-tail:]
            if data or at_end:
                self.reads += 1
                return self._checked(data)

    def _checked(self, data: bytes) -> bytes:
        if data.isascii():
            return data
        try:
            data.decode("utf-8")
            return data
        except UnicodeDecodeError:
            self.dirty_read = self.reads
            return data.decode("utf-8", errors="replace").encode("utf-8")


@dataclass(slots=True)
class Chat:
    """One chat of the export; `index` is its 1-based position in the file."""

    index: int
    id: str | None = None
    name: str | None = None
    type: str | None = None

    @property
    def label(self) -> str:
        if self.name:
            return f"chat {self.name!r}"
        return f"chat id {self.id}" if self.id else f"chat #{self.index}"

    @property
    def peer(self) -> str:
        """The chat's own account id, as Telegram writes a `from_id` for it."""
        if self.type == "private_group":
            return f"chat{self.id}"
        if self.type in PERSONAL_TYPES:
            return f"user{self.id}"
        return f"channel{self.id}"

    def set_id(self, value: object, path: Path) -> None:
        if isinstance(value, int) and not isinstance(value, bool):
            self.id = str(value)
        elif isinstance(value, str) and _BARE_ID.fullmatch(value):
            self.id = value
        else:
            raise FormatError(
                path,
                f"{self.label} (chat #{self.index}) has id {value!r}; Telegram writes a "
                "chat's id as a number, and post ids are built from it.",
                "Restore the chat's numeric id or re-export the chat.",
            )


@dataclass(frozen=True, slots=True)
class Message:
    """One item of a chat's `messages`; `position` is 1-based within that array.
    `suspect` is set when bytes were replaced while the message was read."""

    chat: Chat
    position: int
    value: Any
    suspect: bool


@dataclass(frozen=True, slots=True)
class Profile:
    """The exporting user's `personal_information` (full exports only)."""

    value: Any


class ExportWalker:
    """Iterate the messages (and the exporter's profile) of one export file.

    ijson's errors (a cut or broken file) propagate to the caller, which knows how much
    was read; everything that makes the file not an export raises `FormatError`.
    `position` is how far into the file reading has got; `seen` counts message items.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._guard: Utf8Guard | None = None
        self.seen = 0

    @property
    def position(self) -> int:
        return self._guard.position if self._guard else 0

    def __iter__(self) -> Iterator[Message | Profile]:
        with open_input(self.path) as handle:
            self._guard = Utf8Guard(handle)
            try:
                chat = self._detect(self._guard)
            except ijson.JSONError as exc:
                raise FormatError(
                    self.path,
                    f"is not valid JSON near byte {self.position} ({why(exc)}); {EXPECTED}.",
                ) from exc
        if chat is None:
            yield from self._full()
        else:
            yield from self._single(chat)

    def _detect(self, guard: Utf8Guard) -> Chat | None:
        """Read the top level up to the first messages: a one-chat file gives its Chat,
        a full export None."""
        chat = Chat(index=1)
        for prefix, event, value in shallow_parse(ijson.basic_parse(guard, use_float=True)):
            if prefix == "" and event == "end_map":
                break
            if prefix == "" and event != "map_key" and event != "start_map":
                shown = "an array" if event == "start_array" else f"a {event}"
                raise FormatError(
                    self.path, f"holds {shown} at its top level, not an object; {EXPECTED}."
                )
            if prefix == "" and event == "map_key" and value in FULL_EXPORT_KEYS:
                return None
            elif prefix == "name" and event in ("string", "null"):
                chat.name = value
            elif prefix == "type" and event in ("string", "null"):
                chat.type = value
            elif prefix == "id" and event in ("number", "string"):
                chat.set_id(value, self.path)
            elif prefix == "messages" and event == "start_array":
                self._require_id(chat)
                return chat
        raise FormatError(
            self.path,
            "has no top-level 'messages' (one chat) nor 'chats' (a full export); " + EXPECTED + ".",
            "Export with Telegram Desktop: Export chat history, format 'Machine-readable JSON'.",
        )

    def _require_id(self, chat: Chat) -> None:
        if chat.id is None:
            raise FormatError(
                self.path,
                f"{chat.label}: its messages come before its id; Telegram Desktop writes "
                "name, type and id first, and post ids are built from the chat id.",
                "Re-export the chat, or rewrite the file with the chat's id before 'messages'.",
            )

    def _single(self, chat: Chat) -> Iterator[Message]:
        with open_input(self.path) as handle:
            guard = self._guard = Utf8Guard(handle)
            mark = 0
            events = ijson.basic_parse(guard, use_float=True)
            for position, value in enumerate(
                document_values(events, array=True, keys=("messages",)), 1
            ):
                # The C parser reads a chunk, then hands out every message it completed:
                # this message began in the chunk current at the previous one, or later.
                suspect = guard.dirty_read >= mark and guard.dirty_read > 0
                mark = guard.reads
                self.seen += 1
                yield Message(chat, position, value, suspect)

    def _full(self) -> Iterator[Message | Profile]:
        with open_input(self.path) as handle:
            guard = self._guard = Utf8Guard(handle)
            chats = 0
            chat: Chat | None = None
            base = ""
            position = 0
            # The object being built (a message or the profile) as a stack of containers.
            stack: list[Any] = []
            key: str = ""
            is_message = False
            started = 0
            for prefix, event, value in shallow_parse(ijson.basic_parse(guard, use_float=True)):
                if stack:
                    top = stack[-1]
                    if event == "map_key":
                        key = value
                        continue
                    if event == "start_map" or event == "start_array":
                        child: Any = {} if event == "start_map" else []
                        if type(top) is dict:
                            top[key] = child
                        else:
                            top.append(child)
                        stack.append(child)
                        continue
                    if event == "end_map" or event == "end_array":
                        done = stack.pop()
                        if not stack:
                            if is_message and chat is not None:
                                self.seen += 1
                                suspect = guard.dirty_read >= started and guard.dirty_read > 0
                                yield Message(chat, position, done, suspect)
                            elif not is_message:
                                yield Profile(done)
                        continue
                    if type(top) is dict:
                        top[key] = value
                    else:
                        top.append(value)
                    continue
                if prefix in CHAT_LISTS:
                    if event == "start_map":
                        chats += 1
                        chat, base, position = Chat(index=chats), prefix + ".", 0
                    elif event == "end_map":
                        chat = None
                    continue
                if chat is not None and prefix.startswith(base):
                    field = prefix[len(base) :]
                    if field == "messages.item":
                        position += 1
                        if event == "start_map" or event == "start_array":
                            stack.append({} if event == "start_map" else [])
                            is_message, started = True, guard.reads
                        else:
                            self.seen += 1
                            yield Message(chat, position, value, False)
                    elif field == "messages" and event == "start_array":
                        self._require_id(chat)
                    elif field == "id" and event in ("number", "string"):
                        chat.set_id(value, self.path)
                    elif field == "name" and event in ("string", "null"):
                        chat.name = value
                    elif field == "type" and event in ("string", "null"):
                        chat.type = value
                    continue
                if prefix == "personal_information" and event == "start_map":
                    stack.append({})
                    is_message = False


def why(exc: Exception) -> str:
    """The first line of a parser error (yajl adds the raw text after it: hostile data)."""
    message = exc.args[0] if exc.args else str(exc)
    if isinstance(message, bytes):
        message = message.decode("utf-8", errors="replace")
    first = str(message).strip().splitlines()
    return first[0] if first else type(exc).__name__


def sniff_head(data: bytes) -> bool:
    """True when the head of a file is the start of a Telegram Desktop export: one JSON
    object (not JSON lines) with a chat's `messages` and type, or a full export's keys."""
    # Replacing bad bytes keeps a head cut inside a character (or a bad name) readable.
    text = data.removeprefix(BOM).decode("utf-8", errors="replace")
    if not text.lstrip().startswith("{"):
        return False
    keys: set[str] = set()
    chat_type: object = None
    chat_id: object = None
    has_list = False
    roots = 0
    try:
        basic = ijson.basic_parse(text.encode("utf-8"), multiple_values=True, use_float=True)
        for prefix, event, value in shallow_parse(basic):
            if prefix == "":
                if event == "start_map":
                    roots += 1
                    if roots > 1:
                        return False  # JSON lines: another object after the first
                elif event == "map_key":
                    keys.add(value)
            elif prefix == "type" and event == "string":
                chat_type = value
            elif prefix == "id" and event == "number":
                chat_id = value
            elif prefix in ("chats", "left_chats") and event == "map_key" and value == "list":
                has_list = True
    except ijson.JSONError:
        pass  # the head ends inside the file: judge what was seen
    if "messages" in keys:
        return chat_type in CHAT_TYPES or (isinstance(chat_id, int) and "name" in keys)
    return "personal_information" in keys or has_list
