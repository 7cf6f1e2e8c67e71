"""Dictionary word alignment: whole words vs unspaced scripts, first sub-token,
case folding that keeps offsets, and dictionary files with bad lines."""
import numpy as np

from xlmeta_jax.data import align


def char_ends(text):
    """One piece per character: piece i ends after character i (as UTF-8 byte offsets)."""
    return np.cumsum([len(c.encode()) for c in text])


def test_fold_keeps_one_character_per_character():
    for text in ("İzmir", "STRASSE", "Ǆemal", "ΣΊΣΥΦΟΣ", "Привет"):
        assert len(align.fold(text)) == len(text)
    assert align.fold("İzmir") == "izmir"


def test_find_whole_words_in_spaced_scripts_and_substrings_in_unspaced_ones():
    assert align.find("feld", "das feld ist leer") == 4
    assert align.find("feld", "das textfeld ist leer") == -1  # not a word of its own
    assert align.find("密码", "请输入密码。") == 3
    assert align.find("パスワード", "パスワードが短すぎます") == 0


def test_link_points_at_the_first_piece_of_each_word_after_a_dotted_capital_i():
    en, x = "The password is too short.", "İzmir: Das Passwort ist zu kurz."
    links = align.align_pair(en, x, char_ends(en), char_ends(x), {"password": {"passwort"}})
    assert links.tolist() == [[en.index("password"), x.index("Passwort")]]


def test_links_in_a_cjk_target_and_multi_byte_pieces():
    en, x = "The password is too short.", "密码太短了。"
    # pieces: "密码" (6 bytes) then one piece per remaining character
    x_ends = np.array([6, 9, 12, 15, 18])
    links = align.align_pair(en, x, char_ends(en), x_ends, {"password": {"密码"}, "short": {"短"}})
    assert links.tolist() == [[4, 0], [20, 2]]


def test_dictionary_file_skips_invalid_utf8_and_folds_case(tmp_path):
    path = tmp_path / "en-de.txt"
    path.write_bytes("Password\tPasswort\nfield\tFeld\n".encode() + b"bad\t\xff\xfe\n" + "field\tAcker\n".encode())
    assert align.read_dictionary(path) == {"password": {"passwort"}, "field": {"feld", "acker"}}


def test_dictionary_lines_that_are_not_two_columns_are_skipped_and_counted(tmp_path, caplog):
    from xlmeta_jax.data.align import read_dictionary

    path = tmp_path / "en-de.txt"
    path.write_text("# FreeDict en-de\nhouse\tHaus\ncat\tKatze\tnoun\ndog\n\tleer\nbook\tBuch\n", encoding="utf-8")
    with caplog.at_level("WARNING"):
        assert read_dictionary(path) == {"house": {"haus"}, "book": {"buch"}}
    assert "skipped 4 line(s) that are not 'english<TAB>foreign'" in caplog.text
