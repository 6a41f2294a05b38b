"""Config: defaults with no file, every key validated with its name in the message, and
layouts that would make the engine re-ingest its own output refused."""

from pathlib import Path

import pytest

from chute.engine.config import Config, ConfigError, default_toml, init, load


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "chute.toml"
    path.write_text(text)
    return path


def test_defaults_need_no_file(tmp_path):
    config = Config.for_root(tmp_path)
    assert config.paths.inbox == tmp_path / "inbox"
    assert config.paths.state == tmp_path / "state"
    assert config.watcher.min_age == 1.0
    assert config.watcher.scan_interval == 30.0
    assert ".*" in config.watcher.ignore and "*.part" in config.watcher.ignore
    assert config.server.port == 8765 and config.server.host == "127.0.0.1"


def test_init_writes_a_commented_config_that_loads(tmp_path):
    path, created = init(tmp_path / "ws")
    assert created
    text = path.read_text()
    assert text.count("#") > 10
    config = load(path)
    assert config == load(path)
    for folder in ("inbox", "processed", "failed", "archive", "backups", "state"):
        assert (tmp_path / "ws" / folder).is_dir()
    # init never clobbers an operator's edits
    path.write_text(text.replace('# name = "my-engine"', 'name = "edited"'))
    assert init(tmp_path / "ws") == (path, False)
    assert load(path).name == "edited"


def test_default_toml_round_trips_to_defaults(tmp_path):
    config = load(write(tmp_path, default_toml()))
    assert config.pipeline == Config.for_root(tmp_path).pipeline
    assert config.watcher == Config.for_root(tmp_path).watcher


def test_paths_are_relative_to_the_config_file(tmp_path):
    (tmp_path / "conf").mkdir()
    path = tmp_path / "conf" / "chute.toml"
    path.write_text('[paths]\nroot = "../data"\ninbox = "drop"\n')
    config = load(path)
    assert config.paths.root == (tmp_path / "data").absolute()
    assert config.paths.inbox == (tmp_path / "data" / "drop").absolute()


@pytest.mark.parametrize(
    "text, key, words",
    [
        ("[watcher]\nmin_age = -1\n", "watcher.min_age", ">= 0"),
        ("[watcher]\nscan_interval = 'soon'\n", "watcher.scan_interval", "number"),
        ("[watcher]\nscan_intervall = 5\n", "watcher.scan_intervall", "unknown key"),
        ("[watcher]\nignore = '*.tmp'\n", "watcher.ignore", "list of strings"),
        ("[pipeline]\nworkers = 0\n", "pipeline.workers", ">= 1"),
        ("[pipeline]\nworkers = 2.5\n", "pipeline.workers", "whole number"),
        ("[pipeline]\nduplicates = 'skip'\n", "pipeline.duplicates", "one of process, mark"),
        ("[server]\nport = 70000\n", "server.port", "<= 65535"),
        ("[server]\nenabled = 'yes'\n", "server.enabled", "true or false"),
        ("[log]\nformat = 'xml'\n", "log.format", "one of text, json"),
        ("[paths]\ninbox = 3\n", "paths.inbox", "path string"),
        ("[paths]\nprocesed = 'x'\n", "paths.procesed", "unknown key"),
        ("[mail]\nto = 'x'\n", "mail", "unknown section"),
        ("watcher = 3\n", "watcher", "must be a table"),
    ],
)
def test_bad_values_name_the_key(tmp_path, text, key, words):
    with pytest.raises(ConfigError) as err:
        load(write(tmp_path, text))
    assert err.value.key == key
    assert words in str(err.value)


def test_invalid_toml_and_missing_file_say_so(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        load(write(tmp_path, "[watcher\n"))
    with pytest.raises(ConfigError, match="not found"):
        load(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    "paths, key",
    [
        ('processed = "inbox/out"', "paths.processed"),
        ('failed = "inbox"', "paths.failed"),
        ('state = "inbox/.state"', "paths.state"),
        ('inbox = "processed/in"', "paths.inbox"),
        ('failed = "processed/failed"', "paths.failed"),
    ],
)
def test_outputs_inside_the_inbox_are_refused(tmp_path, paths, key):
    with pytest.raises(ConfigError) as err:
        load(write(tmp_path, f"[paths]\n{paths}\n"))
    assert err.value.key == key


def test_symlinked_output_into_inbox_is_refused(tmp_path):
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "out").mkdir()
    (tmp_path / "sneaky").symlink_to(tmp_path / "inbox" / "out")
    with pytest.raises(ConfigError, match="inside the inbox"):
        load(write(tmp_path, '[paths]\nprocessed = "sneaky"\n'))
