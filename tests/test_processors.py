"""Each processor on good and bad inputs, called directly (the engine-level corpus test drops
the same files into a real inbox)."""

from pathlib import Path

import pytest

from chute.engine import samples
from chute.engine.processors import ProcessingError, Registry
from chute.engine.processors.encoding import decode


@pytest.fixture(scope="module")
def registry():
    return Registry.default()


def run(registry, tmp_path: Path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    choice = registry.choose(name, data[:4096])
    return choice, choice.processor.process(path, name, tmp_path)


def test_csv_reports_shape_dtypes_nulls_and_writes_utf8(registry, tmp_path):
    choice, result = run(registry, tmp_path, "orders.csv", samples.csv_good(20, seed=1))
    assert choice.processor.kind == "csv"
    meta = result.meta
    assert (meta["rows"], meta["columns"]) == (20, 4)
    assert meta["column_names"] == ["id", "product", "quantity", "price"]
    assert meta["dtypes"]["id"] == "int64"
    assert meta["nulls"]["quantity"] >= 0
    out = result.outputs[".normalized.csv"]
    assert out.read_text(encoding="utf-8").startswith("id,product,quantity,price")


def test_cp949_korean_csv(registry, tmp_path):
    _, result = run(registry, tmp_path, "고객.csv", samples.csv_cp949())
    assert result.meta["encoding"] == "cp949"
    assert result.meta["column_names"] == ["이름", "도시", "나이"]
    assert result.meta["nulls"]["나이"] == 1
    assert "홍길동" in result.outputs[".normalized.csv"].read_text(encoding="utf-8")


def test_utf16_csv_with_semicolons(registry, tmp_path):
    _, result = run(registry, tmp_path, "scores.CSV", samples.csv_utf16())
    assert result.meta["encoding"] == "utf-16"
    assert result.meta["delimiter"] == ";"
    assert result.meta["rows"] == 2


def test_tsv_uses_tabs(registry, tmp_path):
    _, result = run(registry, tmp_path, "t.tsv", b"a\tb\n1\t2\n")
    assert result.meta["delimiter"] == "\t" and result.meta["columns"] == 2


def test_ragged_csv_says_where(registry, tmp_path):
    with pytest.raises(ProcessingError) as err:
        run(registry, tmp_path, "r.csv", samples.csv_ragged())
    assert err.value.kind == "corrupt"
    assert "line 4 has 4 fields" in err.value.reason


def test_binary_csv_says_where(registry, tmp_path):
    with pytest.raises(ProcessingError) as err:
        run(registry, tmp_path, "b.csv", b"a,b\n1,2\n" + b"\x00\x01\x02" * 10)
    assert err.value.kind == "binary"
    assert "offset 8" in err.value.reason


def test_text_counts_and_top_terms(registry, tmp_path):
    _, result = run(registry, tmp_path, "notes.TXT", b"alpha beta alpha\ngamma alpha beta\n")
    meta = result.meta
    assert (meta["lines"], meta["words"], meta["characters"]) == (2, 6, 34)
    assert meta["top_terms"][0] == ["alpha", 3]


def test_binary_txt_fails_as_binary(registry, tmp_path):
    with pytest.raises(ProcessingError) as err:
        run(registry, tmp_path, "dump.txt", samples.binary())
    assert err.value.kind == "binary"


def test_non_utf8_text_is_decoded(registry, tmp_path):
    _, result = run(registry, tmp_path, "latin.txt", "Grüße aus Zürich, ça va très bien\n".encode("cp1252"))
    assert result.meta["words"] == 7


def test_image_metadata_and_thumbnail(registry, tmp_path):
    _, result = run(registry, tmp_path, "photo.png", samples.png(640, 480))
    assert result.meta["format"] == "PNG"
    assert (result.meta["width"], result.meta["height"]) == (640, 480)
    from PIL import Image

    with Image.open(result.outputs[".thumb.png"]) as thumb:
        assert max(thumb.size) <= 256


def test_png_named_jpg_is_still_an_image(registry, tmp_path):
    choice, result = run(registry, tmp_path, "holiday.JPG", samples.png())
    assert choice.processor.kind == "image"
    assert choice.note == "named .jpg but the content is png"
    assert result.meta["format"] == "PNG"


def test_jpeg_named_jpeg_has_no_note(registry, tmp_path):
    choice, _ = run(registry, tmp_path, "x.jpeg", samples.jpeg())
    assert choice.note is None


def test_truncated_png_is_corrupt(registry, tmp_path):
    with pytest.raises(ProcessingError) as err:
        run(registry, tmp_path, "scan.png", samples.png_truncated())
    assert err.value.kind == "corrupt"
    assert "truncated" in err.value.reason.lower()


def test_not_an_image_named_jpg(registry, tmp_path):
    with pytest.raises(ProcessingError) as err:
        run(registry, tmp_path, "fake.jpg", b"this is plain text, not a jpeg")
    assert err.value.kind == "corrupt"


def test_decompression_bomb_is_refused(registry, tmp_path):
    from chute.engine.processors import image

    old = image.MAX_PIXELS
    image.MAX_PIXELS = 1000
    try:
        with pytest.raises(ProcessingError) as err:
            run(registry, tmp_path, "bomb.png", samples.png(400, 400))
    finally:
        image.MAX_PIXELS = old
    assert err.value.kind == "too_large"


def test_pdf_pages_info_excerpt(registry, tmp_path):
    _, result = run(registry, tmp_path, "report.pdf", samples.pdf(("Hello chute", "second line")))
    assert result.meta["pages"] == 1
    assert result.meta["encrypted"] is False
    assert result.meta["info"]["Title"] == "chute sample"
    assert "Hello chute" in result.meta["excerpt"]


def test_encrypted_pdf_fails_cleanly(registry, tmp_path):
    with pytest.raises(ProcessingError) as err:
        run(registry, tmp_path, "locked.pdf", samples.pdf_encrypted())
    assert err.value.kind == "encrypted"


def test_corrupt_pdf_fails_cleanly(registry, tmp_path):
    with pytest.raises(ProcessingError) as err:
        run(registry, tmp_path, "bad.pdf", samples.pdf_corrupt())
    assert err.value.kind == "corrupt"


def test_json_shape_and_errors(registry, tmp_path):
    _, result = run(registry, tmp_path, "order.json", samples.json_good())
    assert result.meta["top_level"] == "object" and result.meta["first_keys"][0] == "order"
    _, result = run(registry, tmp_path, "list.json", b"[1, 2, 3]")
    assert result.meta["top_level"] == "array" and result.meta["length"] == 3
    with pytest.raises(ProcessingError, match="line 4 column 1"):
        run(registry, tmp_path, "broken.json", samples.json_bad())


def test_unknown_binary_is_unsupported_and_unknown_text_is_text(registry, tmp_path):
    with pytest.raises(ProcessingError) as err:
        registry.choose("archive.zip", b"PK\x03\x04" + bytes(range(200)))
    assert err.value.kind == "unsupported"
    assert ".zip" in err.value.reason
    choice = registry.choose("README", b"just some words\n")
    assert choice.processor.kind == "text"


@pytest.mark.parametrize(
    "data, encoding",
    [
        ("héllo".encode(), "utf-8"),
        ("\ufeffhéllo".encode(), "utf-8-sig"),
        ("héllo wörld".encode("utf-16-le"), "utf-16-le"),
        ("héllo".encode("utf-16"), "utf-16"),
    ],
)
def test_decode(data, encoding):
    text, found = decode(data)
    assert found == encoding
    assert text.lstrip("\ufeff").startswith("h")


def test_plugins_register_through_the_entry_point_group(monkeypatch, tmp_path):
    from importlib.metadata import EntryPoint

    from chute.engine.processors import registry as registry_module

    points = [
        EntryPoint("yaml", "processors_for_tests:Boom", "chute.processors"),
        EntryPoint("broken", "no_such_module:Nothing", "chute.processors"),
    ]
    monkeypatch.setattr(
        registry_module, "entry_points", lambda group: points if group == "chute.processors" else []
    )
    reg = Registry.default()
    assert reg.by_ext[".boom"].kind == "boom"  # the plugin's class was instantiated and registered
    assert reg.by_kind["csv"].kind == "csv"  # a broken plugin does not take the built-ins down
