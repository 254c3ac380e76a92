"""permessage-deflate (RFC 7692): negotiation, the codec, the bomb, and its hooks in Connection."""

from __future__ import annotations

import json
import os
import tracemalloc
import zlib

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from wslib.deflate import (
    EMPTY_BLOCK,
    EXTENSION_NAME,
    DeflateConfig,
    DeflateParameters,
    PerMessageDeflate,
    client_extension,
    client_offer,
    compression_config,
    parse_parameters,
    server_extension,
)
from wslib.exceptions import InvalidHeader, InvalidResponse, InvalidState
from wslib.frames import RSV1, Frame, Opcode
from wslib.handshake import Headers, Response, accept, check_response, client_request
from wslib.protocol import BinaryMessage, Connection, Side, TextMessage

# --- parameters (RFC 7692 §7.1) -------------------------------------------------------------------


def test_parse_parameters_of_an_offer_and_an_answer() -> None:
    assert parse_parameters([("client_max_window_bits", None)], offer=True) == (
        DeflateParameters(client_max_window_bits=15)
    )
    assert parse_parameters(
        [
            ("server_no_context_takeover", None),
            ("client_no_context_takeover", None),
            ("server_max_window_bits", "10"),
            ("client_max_window_bits", "9"),
        ],
        offer=False,
    ) == DeflateParameters(True, True, 10, 9)


@pytest.mark.parametrize(
    ("params", "offer", "message"),
    [
        ([("x", None)], True, "unknown parameter"),
        ([("server_max_window_bits", "10"), ("server_max_window_bits", "11")], True, "twice"),
        ([("server_no_context_takeover", None)] * 2, False, "twice"),
        ([("server_no_context_takeover", "1")], True, "takes no value"),
        ([("server_max_window_bits", None)], True, "needs a value"),
        ([("client_max_window_bits", None)], False, "needs a value"),
        ([("client_max_window_bits", "7")], True, "decimal 8-15"),
        ([("client_max_window_bits", "16")], True, "decimal 8-15"),
        ([("client_max_window_bits", "010")], True, "decimal 8-15"),
        ([("server_max_window_bits", "0x9")], False, "decimal 8-15"),
    ],
)
def test_parse_parameters_refuses(
    params: list[tuple[str, str | None]], offer: bool, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        parse_parameters(params, offer=offer)


def test_config_offer_and_its_checks() -> None:
    assert DeflateConfig().offer() == (
        "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"
    )
    assert DeflateConfig(15, 15).offer() == "permessage-deflate; client_max_window_bits"
    assert DeflateConfig(15, 10, True, True).offer() == (
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
        "client_max_window_bits=10"
    )
    for bad in (
        {"server_max_window_bits": 8},
        {"client_max_window_bits": 16},
        {"compress_level": 10},
        {"mem_level": 0},
    ):
        with pytest.raises(ValueError):
            DeflateConfig(**bad)  # type: ignore[arg-type]
    assert compression_config(None) is None
    assert compression_config("deflate") == DeflateConfig()
    assert compression_config(DeflateConfig(9, 9)) == DeflateConfig(9, 9)
    with pytest.raises(ValueError, match="compression='gzip'"):
        compression_config("gzip")


# --- negotiation, server side ---------------------------------------------------------------------

KEY = "dGhlIHNhbXBsZSBub25jZQ=="


def negotiate(offer: str | None, config: DeflateConfig | None) -> tuple[str | None, object]:
    request = client_request("example.com", key=KEY)
    if offer is not None:
        request.headers["Sec-WebSocket-Extensions"] = offer
    response = accept(request)
    codec = server_extension(request, response, config)
    return response.headers.get("Sec-WebSocket-Extensions"), codec


#: offer, server config, the answer (None: declined), the server's codec
#: (send bits, receive bits, send no context takeover, receive no context takeover)
NEGOTIATIONS: list[tuple[str, DeflateConfig, str | None, tuple[int, int, bool, bool] | None]] = [
    # Firefox: nothing but the name; the default server limits its own window and says so
    (
        "permessage-deflate",
        DeflateConfig(),
        "permessage-deflate; server_max_window_bits=12",
        (12, 15, False, False),
    ),
    # zlib's full window on both sides: an answer without parameters
    ("permessage-deflate", DeflateConfig(15, 15), "permessage-deflate", (15, 15, False, False)),
    # Chromium: the client accepts a limit on its window
    (
        "permessage-deflate; client_max_window_bits",
        DeflateConfig(),
        "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
        (12, 12, False, False),
    ),
    (
        "permessage-deflate; client_max_window_bits",
        DeflateConfig(15, 15),
        "permessage-deflate; client_max_window_bits=15",
        (15, 15, False, False),
    ),
    # the client's value is a ceiling for the answer (§7.1.2.2)
    (
        "permessage-deflate; client_max_window_bits=10",
        DeflateConfig(),
        "permessage-deflate; server_max_window_bits=12; client_max_window_bits=10",
        (12, 10, False, False),
    ),
    # ... and the client may announce 8 bits: the server decompresses with 8
    (
        "permessage-deflate; client_max_window_bits=8",
        DeflateConfig(15, 15),
        "permessage-deflate; client_max_window_bits=8",
        (15, 8, False, False),
    ),
    # server_max_window_bits is answered, with the same or a smaller value (§7.1.2.1)
    (
        "permessage-deflate; server_max_window_bits=10",
        DeflateConfig(),
        "permessage-deflate; server_max_window_bits=10",
        (10, 15, False, False),
    ),
    (
        "permessage-deflate; server_max_window_bits=14",
        DeflateConfig(),
        "permessage-deflate; server_max_window_bits=12",
        (12, 15, False, False),
    ),
    (
        "permessage-deflate; server_max_window_bits=15",
        DeflateConfig(15, 15),
        "permessage-deflate; server_max_window_bits=15",
        (15, 15, False, False),
    ),
    # server_no_context_takeover MUST be answered (§7.1.1.1)
    (
        "permessage-deflate; server_no_context_takeover",
        DeflateConfig(15, 15),
        "permessage-deflate; server_no_context_takeover",
        (15, 15, True, False),
    ),
    # client_no_context_takeover is echoed
    (
        "permessage-deflate; client_no_context_takeover",
        DeflateConfig(15, 15),
        "permessage-deflate; client_no_context_takeover",
        (15, 15, False, True),
    ),
    # a server that requires both, whatever the offer
    (
        "permessage-deflate",
        DeflateConfig(15, 15, True, True),
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
        (15, 15, True, True),
    ),
    # everything at once, quoted value
    (
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
        'server_max_window_bits="9"; client_max_window_bits=9',
        DeflateConfig(),
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
        "server_max_window_bits=9; client_max_window_bits=9",
        (9, 9, True, True),
    ),
    # declined: 8 bits for the server's window, which zlib cannot compress with
    ("permessage-deflate; server_max_window_bits=8", DeflateConfig(), None, None),
    # declined: an unknown parameter, a duplicate, a bad value (§7 "MUST decline")
    ("permessage-deflate; x=1", DeflateConfig(), None, None),
    (
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        DeflateConfig(),
        None,
        None,
    ),
    ("permessage-deflate; client_max_window_bits=16", DeflateConfig(), None, None),
    ("permessage-deflate; server_max_window_bits", DeflateConfig(), None, None),
    # ... and then the next offer is taken
    (
        "permessage-deflate; x=1, permessage-deflate; server_max_window_bits=8, "
        "permessage-deflate; client_no_context_takeover",
        DeflateConfig(15, 15),
        "permessage-deflate; client_no_context_takeover",
        (15, 15, False, True),
    ),
    # other extensions are ignored
    ("x-webkit-deflate-frame, foo; bar", DeflateConfig(), None, None),
    (
        "foo, permessage-deflate; client_max_window_bits=11",
        DeflateConfig(),
        "permessage-deflate; server_max_window_bits=12; client_max_window_bits=11",
        (12, 11, False, False),
    ),
]


@pytest.mark.parametrize(("offer", "config", "answer", "codec"), NEGOTIATIONS)
def test_server_negotiation(
    offer: str,
    config: DeflateConfig,
    answer: str | None,
    codec: tuple[int, int, bool, bool] | None,
) -> None:
    got_answer, got_codec = negotiate(offer, config)
    assert got_answer == answer
    if codec is None:
        assert got_codec is None
    else:
        assert isinstance(got_codec, PerMessageDeflate)
        assert (
            got_codec.send_window_bits,
            got_codec.receive_window_bits,
            got_codec.send_no_context_takeover,
            got_codec.receive_no_context_takeover,
        ) == codec
    # whatever the server answers, a client that made this offer accepts it: the answer is one
    # that RFC 7692 allows (checked with wslib's client, the other half of the table)
    if answer is not None and "client_max_window_bits=8" not in answer:  # zlib: see below
        response = Response(
            101, "Switching Protocols", Headers([("Sec-WebSocket-Extensions", answer)])
        )
        client_config = DeflateConfig(15, 15)  # the most permissive client: nothing required
        assert isinstance(client_extension(response, client_config), PerMessageDeflate)


def test_server_without_compression_or_offer_answers_nothing() -> None:
    assert negotiate("permessage-deflate", None) == (None, None)
    assert negotiate(None, DeflateConfig()) == (None, None)


@pytest.mark.parametrize("offer", ["permessage-deflate;", 'permessage-deflate; a="b c"', "; x"])
def test_server_refuses_a_header_that_breaks_the_grammar(offer: str) -> None:
    with pytest.raises(InvalidHeader) as info:
        negotiate(offer, DeflateConfig())
    assert info.value.status == 400


# --- negotiation, client side ---------------------------------------------------------------------


def answer(value: str | None, *more: str) -> Response:
    headers = Headers()
    for v in (value, *more):
        if v is not None:
            headers["Sec-WebSocket-Extensions"] = v
    return Response(101, "Switching Protocols", headers)


def test_client_offer_goes_into_the_request() -> None:
    request = client_request("example.com")
    client_offer(request, None)
    assert "Sec-WebSocket-Extensions" not in request.headers
    client_offer(request, DeflateConfig())
    assert request.headers["Sec-WebSocket-Extensions"] == DeflateConfig().offer()


#: client config, the server's answer, the client's codec (send bits, receive bits, send nct,
#: receive nct) or None for a declined offer
CLIENT_ACCEPTS: list[tuple[DeflateConfig, str | None, tuple[int, int, bool, bool] | None]] = [
    (DeflateConfig(), None, None),
    (DeflateConfig(), "permessage-deflate; server_max_window_bits=12", (12, 12, False, False)),
    (DeflateConfig(), "permessage-deflate; server_max_window_bits=9", (12, 9, False, False)),
    (
        DeflateConfig(),
        "permessage-deflate; server_max_window_bits=12; client_max_window_bits=10",
        (10, 12, False, False),
    ),
    (DeflateConfig(15, 15), "permessage-deflate", (15, 15, False, False)),
    # a server may limit its own window unasked, and tell the client
    (
        DeflateConfig(15, 15),
        "permessage-deflate; server_max_window_bits=10",
        (15, 10, False, False),
    ),
    # the server may impose no context takeover on either direction
    (
        DeflateConfig(15, 15),
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
        (15, 15, True, True),
    ),
    (
        DeflateConfig(15, 15, True, False),
        "permessage-deflate; server_no_context_takeover",
        (15, 15, False, True),
    ),
]


@pytest.mark.parametrize(("config", "value", "codec"), CLIENT_ACCEPTS)
def test_client_accepts(
    config: DeflateConfig, value: str | None, codec: tuple[int, int, bool, bool] | None
) -> None:
    got = client_extension(answer(value), config)
    if codec is None:
        assert got is None
    else:
        assert got is not None
        assert (
            got.send_window_bits,
            got.receive_window_bits,
            got.send_no_context_takeover,
            got.receive_no_context_takeover,
        ) == codec


#: client config, the server's answer: each MUST fail the handshake (RFC 7692 §7)
CLIENT_REFUSES: list[tuple[DeflateConfig | None, list[str], str]] = [
    (None, ["permessage-deflate"], "not offered"),
    (
        DeflateConfig(),
        ["permessage-deflate; server_max_window_bits=12", "permessage-deflate"],
        "twice",
    ),
    (DeflateConfig(), ["permessage-deflate; server_max_window_bits=12; x"], "unknown parameter"),
    (
        DeflateConfig(),
        ["permessage-deflate; server_max_window_bits=12; client_max_window_bits"],
        "needs a value",
    ),
    (
        DeflateConfig(),
        ["permessage-deflate; server_max_window_bits=12; server_max_window_bits=12"],
        "twice",
    ),
    # we asked for server_max_window_bits=12: the answer must have it, not larger
    (DeflateConfig(), ["permessage-deflate"], "server_max_window_bits=None"),
    (
        DeflateConfig(),
        ["permessage-deflate; server_max_window_bits=13"],
        "server_max_window_bits=13",
    ),
    # we offered client_max_window_bits=12: the answer may not go over it
    (
        DeflateConfig(),
        ["permessage-deflate; server_max_window_bits=12; client_max_window_bits=14"],
        "larger",
    ),
    # 8 bits for our compressor: zlib cannot
    (DeflateConfig(15, 15), ["permessage-deflate; client_max_window_bits=8"], "zlib cannot"),
    # we asked for server_no_context_takeover: the answer MUST carry it
    (DeflateConfig(15, 15, True), ["permessage-deflate"], "lacks server_no_context_takeover"),
    (
        DeflateConfig(),
        ["permessage-deflate; server_max_window_bits=12,"],
        "",
    ),  # fine: empty element
    (DeflateConfig(), ['permessage-deflate; server_max_window_bits="1 2"'], "invalid"),
]


@pytest.mark.parametrize(("config", "values", "message"), CLIENT_REFUSES)
def test_client_refuses(config: DeflateConfig | None, values: list[str], message: str) -> None:
    if not message:  # the one accepted answer of the list, to show the grammar allows it
        assert client_extension(answer(*values), config) is not None
        return
    with pytest.raises(InvalidResponse, match=message):
        client_extension(answer(*values), config)


def test_check_response_allows_only_the_extensions_offered() -> None:
    from wslib.handshake import accept_key

    def response(value: str) -> Response:
        return Response(
            101,
            "Switching Protocols",
            Headers(
                [
                    ("Upgrade", "websocket"),
                    ("Connection", "Upgrade"),
                    ("Sec-WebSocket-Accept", accept_key(KEY)),
                    ("Sec-WebSocket-Extensions", value),
                ]
            ),
        )

    check_response(response("permessage-deflate"), KEY, extensions=[EXTENSION_NAME])
    with pytest.raises(InvalidResponse, match="none was offered"):
        check_response(response("permessage-deflate"), KEY)
    with pytest.raises(InvalidResponse, match="'x-foo', which was not offered"):
        check_response(response("permessage-deflate, x-foo; a"), KEY, extensions=[EXTENSION_NAME])


# --- the codec (RFC 7692 §7.2) --------------------------------------------------------------------


def pair(**kw: object) -> tuple[PerMessageDeflate, PerMessageDeflate]:
    """A sender and the receiver that matches it."""
    send_bits = int(kw.pop("bits", 15))  # type: ignore[call-overload]
    nct = bool(kw.pop("nct", False))
    sender = PerMessageDeflate(send_window_bits=send_bits, send_no_context_takeover=nct)
    receiver = PerMessageDeflate(receive_window_bits=send_bits, receive_no_context_takeover=nct)
    return sender, receiver


def test_rfc_7692_example_hello() -> None:
    """RFC 7692 §7.2.3.1: "Hello" compressed is c1 07 f2 48 cd c9 c9 07 00 (with RSV1)."""
    sender, receiver = pair()
    frame = sender.encode(Opcode.TEXT, b"Hello", True)
    assert frame.rsv1 and frame.payload == bytes.fromhex("f248cdc9c90700")
    assert frame.serialize(mask=False, extensions_rsv=RSV1) == bytes.fromhex("c107f248cdc9c90700")
    assert receiver.decode(frame, None) == Frame(Opcode.TEXT, b"Hello")
    # §7.2.3.2: the same message again, with context takeover: a back-reference, 5 bytes
    again = sender.encode(Opcode.TEXT, b"Hello", True)
    assert again.payload == bytes.fromhex("f200110000")
    assert receiver.decode(again, None).payload == b"Hello"


def test_rfc_7692_example_uncompressed_and_fragmented() -> None:
    receiver = PerMessageDeflate()
    # §7.2.3.3: a DEFLATE block with no compression
    frame = Frame(Opcode.TEXT, bytes.fromhex("000500faff48656c6c6f00"), rsv1=True)
    assert receiver.decode(frame, None).payload == b"Hello"
    # §7.2.3.1: the compressed "Hello" split into two frames, RSV1 on the first only
    first = Frame(Opcode.TEXT, bytes.fromhex("f248cd"), fin=False, rsv1=True)
    second = Frame(Opcode.CONT, bytes.fromhex("c9c90700"))
    assert receiver.decode(first, None).payload + receiver.decode(second, None).payload == b"Hello"


def test_no_context_takeover_starts_afresh_and_skips_useless_compression() -> None:
    sender, receiver = pair(nct=True)
    message = json.dumps({"user": "ada", "text": "hello, hello, hello, hello"}).encode()
    first = sender.encode(Opcode.TEXT, message, True)
    second = sender.encode(Opcode.TEXT, message, True)
    assert first == second and first.rsv1  # no memory of the first message
    assert receiver.decode(first, None).payload == message
    assert receiver.decode(second, None).payload == message
    # a message that does not shrink goes out as it is, RSV1 clear
    noise = os.urandom(200)
    frame = sender.encode(Opcode.BINARY, noise, True)
    assert frame == Frame(Opcode.BINARY, noise)
    assert receiver.decode(frame, None) == frame
    # with context takeover, the second copy costs a few bytes only
    sender, receiver = pair()
    first = sender.encode(Opcode.TEXT, message, True)
    second = sender.encode(Opcode.TEXT, message, True)
    assert len(second.payload) < len(first.payload) // 4
    assert [receiver.decode(f, None).payload for f in (first, second)] == [message, message]


def test_decode_refuses_rsv1_where_rfc_7692_forbids_it_and_data_that_does_not_inflate() -> None:
    from wslib.exceptions import ProtocolError

    codec = PerMessageDeflate()
    for frame in (
        Frame(Opcode.PING, b"", rsv1=True),
        Frame(Opcode.CLOSE, b"\x03\xe8", rsv1=True),
        Frame(Opcode.CONT, b"", rsv1=True),
    ):
        with pytest.raises(ProtocolError, match=r"RFC 7692 §6\.1"):
            codec.decode(frame, None)
    with pytest.raises(ProtocolError, match="does not inflate"):
        PerMessageDeflate().decode(Frame(Opcode.TEXT, b"\xff\xff\xff", rsv1=True), None)
    with pytest.raises(InvalidState, match="no message was started"):
        PerMessageDeflate().encode(Opcode.CONT, b"x", True)


# --- Connection: round trips, RSV1, limits -----------------------------------------------------


def connections(
    server_codec: PerMessageDeflate | None,
    client_codec: PerMessageDeflate | None,
    max_size: int | None = 2**20,
) -> tuple[Connection, Connection]:
    server = Connection(Side.SERVER, deflate=server_codec, max_size=max_size)
    client = Connection(
        Side.CLIENT, deflate=client_codec, max_size=max_size, mask_key_generator=lambda: b"abcd"
    )
    return server, client


def transfer(sender: Connection, receiver: Connection) -> list[object]:
    for data in sender.data_to_send():
        receiver.receive_data(data)
    return list(receiver.events_received())


def codecs_for(params: DeflateParameters) -> tuple[PerMessageDeflate, PerMessageDeflate]:
    config = DeflateConfig(15, 15)
    return (
        PerMessageDeflate.negotiated(params, server=True, config=config),
        PerMessageDeflate.negotiated(params, server=False, config=config),
    )


PARAMS = st.builds(
    DeflateParameters,
    st.booleans(),
    st.booleans(),
    st.none() | st.integers(9, 15),
    st.none() | st.integers(9, 15),
)
MESSAGES = st.lists(
    st.one_of(
        st.text(max_size=300),
        st.binary(max_size=300),
        st.sampled_from([b"", "{}", json.dumps({"k": list(range(50))}), bytes(3000), "é" * 700]),
    ),
    min_size=1,
    max_size=6,
)


@given(PARAMS, MESSAGES, st.lists(st.integers(1, 500), min_size=1, max_size=8))
@example(DeflateParameters(), ["Hello", "Hello"], [1])
@example(DeflateParameters(True, True, 9, 9), [bytes(3000), ""], [1, 2])
def test_round_trips_with_random_fragmentation(
    params: DeflateParameters, messages: list[str | bytes], cuts: list[int]
) -> None:
    server_codec, client_codec = codecs_for(params)
    server, client = connections(server_codec, client_codec)
    for direction, (sender, receiver) in enumerate(((client, server), (server, client))):
        for n, message in enumerate(messages):
            size = cuts[(n + direction) % len(cuts)]
            pieces = [message[i : i + size] for i in range(0, len(message), size)] or [message]
            for i, piece in enumerate(pieces):
                fin = i == len(pieces) - 1
                if i:
                    sender.send_continuation(piece, fin=fin)
                elif isinstance(piece, str):
                    sender.send_text(piece, fin=fin)
                else:
                    sender.send_binary(piece, fin=fin)
            expected = TextMessage(message) if isinstance(message, str) else BinaryMessage(message)
            assert transfer(sender, receiver) == [expected]


def test_rsv1_on_a_connection() -> None:
    server_codec, _ = codecs_for(DeflateParameters())
    # RSV1 is a protocol error without the extension, and on CONT and control frames with it
    cases = [
        (None, Frame(Opcode.TEXT, b"hi", rsv1=True)),
        (server_codec, Frame(Opcode.PING, b"", rsv1=True)),
        (server_codec, Frame(Opcode.TEXT, bytes.fromhex("f248cd"), fin=False, rsv1=True)),
    ]
    for codec, frame in cases:
        server = Connection(Side.SERVER, deflate=codec)
        data = frame.serialize(mask=True, check=False)
        if frame.opcode is Opcode.TEXT and not frame.fin:
            data += Frame(Opcode.CONT, b"\xc9\xc9\x07\x00", rsv1=True).serialize(
                mask=True, check=False
            )
        server.receive_data(data)
        events = server.events_received()
        assert server.close_sent is not None and server.close_sent.code == 1002, (frame, events)
    # the extension without RSV1: an uncompressed message, accepted as it is
    server = Connection(Side.SERVER, deflate=server_codec)
    server.receive_data(Frame(Opcode.TEXT, b"plain").serialize(mask=True))
    assert server.events_received() == [TextMessage("plain")]
    # the wire: RSV1 set on the first frame only, never on control frames
    server, client = connections(*codecs_for(DeflateParameters()))
    client.send_text("a" * 100, fin=False)
    client.send_ping(b"p")
    client.send_continuation("b" * 100, fin=True)
    heads = [data[0] for data in client.data_to_send()]
    assert heads == [0x41, 0x89, 0x80]  # TEXT+RSV1, PING, CONT+FIN


# --- decompression bombs --------------------------------------------------------------------------


def bomb(gib: float = 1) -> bytes:
    """DEFLATE data that inflates to ``gib`` GiB of zeros: 16 MiB compressed once (16 KiB), and
    repeated: a full flush makes each copy independent of what came before."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
    block = compressor.compress(bytes(16 << 20)) + compressor.flush(zlib.Z_FULL_FLUSH)
    data = block * int(gib * 64)
    assert data.endswith(EMPTY_BLOCK)
    return data[: -len(EMPTY_BLOCK)]  # as permessage-deflate sends it


@pytest.mark.timeout(60)
@pytest.mark.parametrize("fragment", [None, 1024])
def test_a_bomb_fails_with_1009_and_memory_stays_flat(fragment: int | None) -> None:
    """1 GiB of zeros in about 1 MB on the wire (or its first 1 KiB frame): 1009, and the peak of
    memory while receiving is a few times max_size, not the gigabyte it inflates to."""
    data = bomb()
    assert len(data) < 1_050_000
    max_size = 2**20 + 2**16  # the whole bomb fits as one frame on the wire
    server = Connection(Side.SERVER, deflate=PerMessageDeflate(), max_size=max_size)
    if fragment is None:
        frames = [Frame(Opcode.BINARY, data, rsv1=True)]
    else:
        frames = [Frame(Opcode.BINARY, data[:fragment], fin=False, rsv1=True)]
        frames += [Frame(Opcode.CONT, data[fragment : 2 * fragment])]
    wire = b"".join(f.serialize(mask=True, mask_key=b"abcd", extensions_rsv=RSV1) for f in frames)
    tracemalloc.start()
    try:
        server.receive_data(wire)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert server.close_sent is not None and server.close_sent.code == 1009
    assert "inflates to over" in server.close_sent.reason
    # What is traced: the wire bytes a few times (the reader's buffer, the payload, unmasked)
    # and at most max_size + 1 bytes inflated; nothing close to the gigabyte.
    assert peak < 4 * len(wire) + 2 * max_size, peak
    close_frame = server.data_to_send()[-2]
    assert close_frame[0] == 0x88 and close_frame[2:4] == b"\x03\xf1"  # CLOSE, 1009


def test_max_size_counts_inflated_bytes() -> None:
    server_codec, client_codec = codecs_for(DeflateParameters())
    server, client = connections(server_codec, client_codec, max_size=1000)
    client.send_text("a" * 1000)  # a few bytes on the wire, 1000 inflated: just fits
    assert transfer(client, server) == [TextMessage("a" * 1000)]
    client.send_text("a" * 600, fin=False)
    client.send_continuation("a" * 401, fin=True)  # 1001 inflated, over the limit
    transfer(client, server)
    assert server.close_sent is not None and server.close_sent.code == 1009


def test_an_incompressible_message_at_max_size_still_fits() -> None:
    """With context takeover a sender compresses even random bytes, which then grow by a few
    bytes on the wire: a message of exactly max_size inflated bytes must still be accepted (the
    limit is on inflated bytes; the wire gets DEFLATE's worst-case growth on top)."""
    for size in (1000, 70_000):
        server_codec, client_codec = codecs_for(DeflateParameters())
        server, client = connections(server_codec, client_codec, max_size=size)
        noise = os.urandom(size)
        client.send_binary(noise)
        assert transfer(client, server) == [BinaryMessage(noise)]
        client.send_binary(noise + b"!")  # one byte over: 1009
        transfer(client, server)
        assert server.close_sent is not None and server.close_sent.code == 1009
