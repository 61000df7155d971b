from pathlib import Path

import pytest

from vigil.config.settings import VigilConfig, load_config
from vigil.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "vigil.toml"
    path.write_text(text)
    return path


def test_defaults_need_no_file(monkeypatch):
    monkeypatch.delenv("VIGIL_CONFIG", raising=False)
    config = load_config()
    assert (config.server.host, config.server.port) == ("127.0.0.1", 5000)
    assert config.detect.model == "yolov4_tiny.coco"


def test_file_values_and_per_model_thresholds(tmp_path):
    config = load_config(write(tmp_path, '[server]\nport = 5055\n[models."yolov4_tiny.coco"]\nmin_score = 0.7\n'
                                         'labels = ["person"]\nmin_area = 400\n'))
    assert config.server.port == 5055
    thresholds = config.thresholds("yolov4_tiny.coco")
    assert (thresholds.min_score, thresholds.labels, thresholds.min_area) == (0.7, ["person"], 400)
    assert config.thresholds("other").min_score == 0.4


def test_relative_paths_are_relative_to_the_file(tmp_path):
    (tmp_path / "conf").mkdir()
    config = load_config(write(tmp_path / "conf", '[media]\nroots = ["events", "/abs"]\n[store]\ndata_dir = "d"\n'))
    assert config.media.roots == [tmp_path / "conf" / "events", Path("/abs")]
    assert config.store.data_dir == tmp_path / "conf" / "d"


PG = "postgresql://vigil@db.example:5432/vigil"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "conf/d/events.sqlite3"),  # the default
        ('[faces]\ngallery = "g.sqlite3"\n', "conf/d/events.sqlite3"),  # an SQLite gallery: the default
        (f'[faces]\ngallery = "{PG}"\n', PG),  # a PostgreSQL gallery: the same database
        (f'[faces]\ngallery = "{PG}"\n[events]\ndatabase = "e.sqlite3"\n', "conf/e.sqlite3"),  # set: as set
        ('[events]\ndatabase = "postgresql://other@db2/events"\n', "postgresql://other@db2/events"),
        ('[events]\ndatabase = "/var/lib/vigil/events.sqlite3"\n', "/var/lib/vigil/events.sqlite3"),
    ],
)
def test_the_event_log_follows_the_gallery_unless_set(tmp_path, text, expected):
    (tmp_path / "conf").mkdir()
    location = load_config(write(tmp_path / "conf", '[store]\ndata_dir = "d"\n' + text)).events_location()
    if expected.startswith("postgresql://"):
        assert location == expected
    else:
        assert isinstance(location, Path) and location == tmp_path / expected


def test_environment_overrides_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("VIGIL_SERVER__PORT", "6001")
    monkeypatch.setenv("VIGIL_DETECT__INPUT_SIZE", "512")
    config = load_config(write(tmp_path, "[server]\nport = 5055\n"))
    assert (config.server.port, config.detect.input_size) == (6001, 512)


def test_config_path_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("VIGIL_CONFIG", str(write(tmp_path, "[server]\nport = 5077\n")))
    assert load_config().server.port == 5077


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[server]\nprot = 1\n", "server.prot: unknown key"),
        ("[sever]\nport = 1\n", "sever: unknown key"),
        ('[server]\nport = "many"\n', "server.port"),
        ("[server]\nport = 70000\n", "server.port"),
        ("[detect]\ninput_size = 400\n", "detect.input_size"),
        ('[rpc]\nrecognize_mode = "aura"\n', "rpc.recognize_mode"),
        ('[models."yolov4_tiny.coco"]\nmin_score = 2\n', "models.yolov4_tiny.coco.min_score"),
        ("[server\nport = 1\n", "not valid TOML"),
    ],
)
def test_bad_config_names_the_key(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        load_config(write(tmp_path, text))


def test_missing_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "absent.toml")


def test_every_field_is_documented():
    def walk(model):
        for name, field in model.model_fields.items():
            assert field.title and field.description, f"{model.__name__}.{name} lacks a title or description"
            annotation = field.annotation
            if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
                walk(annotation)
    walk(VigilConfig)


@pytest.mark.parametrize(("text", "by", "person_model"), [
    ('[faces]\nmode = "classifier"\n', "face_classifier", ""),
    ('[faces]\nmode = "gallery"\n', "face_gallery", ""),
    ('[rpc]\nrecognize_mode = "person"\n[person]\nmodel = "person.family"\n', "person_classifier", "person.family"),
    ('[rpc]\nrecognize_mode = "face"\n[faces]\nmode = "classifier"\n', "face_classifier", ""),
    ('[recognize]\nby = "face_gallery"\n[rpc]\nrecognize_mode = "person"\n', "face_gallery", ""),  # new key wins
])
def test_old_recognise_keys_map_onto_recognize_by(tmp_path, caplog, text, by, person_model):
    with caplog.at_level("WARNING", logger="vigil.config"):
        config = load_config(write(tmp_path, text))
    assert (config.recognize.by, config.recognize.person_model) == (by, person_model)
    assert "deprecated config key" in caplog.text


def test_recognize_by_is_one_choice(tmp_path):
    config = load_config(write(tmp_path, '[recognize]\nby = "person_classifier"\nperson_model = "p"\n'))
    assert (config.recognize.by, config.recognize.person_model) == ("person_classifier", "p")
    with pytest.raises(ConfigError, match=r"recognize\.by"):
        load_config(write(tmp_path, '[recognize]\nby = "face"\n'))


def test_home_is_expanded_in_every_path_key_from_the_file_and_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "me"))
    config = load_config(write(tmp_path, '[store]\nhome = "~/models"\ndata_dir = "~/data"\n[media]\nroots = ["~/m"]\n'
                                         '[faces]\ngallery = "~/g.sqlite3"\n[watch]\ndirs = ["~/nvr"]\n'))
    me = tmp_path / "me"
    assert (config.store.home, config.store.data_dir, config.media.roots) == (me / "models", me / "data", [me / "m"])
    assert (Path(config.faces.gallery), config.watch.dirs) == (me / "g.sqlite3", [me / "nvr"])
    monkeypatch.setenv("VIGIL_STORE__HOME", "~/elsewhere")
    monkeypatch.setenv("VIGIL_EVENTS__DATABASE", "~/events.sqlite3")
    config = load_config(write(tmp_path, ""))
    assert config.store.home == me / "elsewhere" and Path(config.events.database) == me / "events.sqlite3"


def test_a_bad_environment_variable_is_named_not_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("VIGIL_SERVER__PORT", "five thousand")
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, "[server]\nhost = \"127.0.0.1\"\n"))
    message = str(caught.value)
    assert "VIGIL_SERVER__PORT (server.port)" in message and "in the environment" in message
    assert "vigil.toml" not in message


def test_detect_aliases_add_to_the_blue_iris_names(tmp_path):
    config = load_config(write(tmp_path, '[detect.aliases.driveway]\nlabels = ["car", "person"]\n'
                                         '[detect.aliases.ipcam-dark]\nmodel = "yolov3_tiny.coco"\n'))
    aliases = config.detect.aliases
    assert aliases["driveway"].labels == ["car", "person"] and aliases["driveway"].model == ""
    assert aliases["ipcam-dark"].model == "yolov3_tiny.coco" and aliases["ipcam-dark"].labels == []  # yours wins
    assert {"ipcam-general", "ipcam-combined", "ipcam-animal"} <= set(aliases)
    assert "dog" in aliases["ipcam-animal"].labels and "dog" not in aliases["ipcam-general"].labels


def test_a_model_not_in_the_cache_names_the_folder_searched(tmp_path):
    from vigil.errors import NotFound
    from vigil.registry.store import ModelStore

    with pytest.raises(NotFound) as caught:
        ModelStore(tmp_path / "cache").path("yolov4_tiny.coco", "weights")
    assert str(tmp_path / "cache" / "models" / "yolov4_tiny.coco") in str(caught.value)
