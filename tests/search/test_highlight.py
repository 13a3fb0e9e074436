"""Marking the searched words: accents and case folded, provider text escaped, short words whole."""
from webapp.search.highlight import fold, highlight, snippet


def test_folding_keeps_track_of_the_original_characters():
    folded, origin = fold("Straße Zoë")
    assert folded == "strasse zoe"
    assert [origin[i] for i in range(len(folded))] == [0, 1, 2, 3, 4, 4, 5, 6, 7, 8, 9]


def test_words_are_marked_in_the_original_spelling_case_and_accents():
    assert highlight("Lunch with Zoë Müller", ["zoe", "muller"]) == (
        "Lunch with <mark>Zoë</mark> <mark>Müller</mark>")


def test_longer_words_match_as_prefixes_and_short_ones_only_whole():
    assert highlight("Budgeting Q3 q34", ["budg", "q3"]) == "<mark>Budg</mark>eting <mark>Q3</mark> q34"


def test_a_word_inside_another_is_not_marked_unless_only_trigrams_found_it():
    assert highlight("Conference", ["ference"]) == "Conference"
    assert highlight("Conference", ["ference"], anywhere=True) == "Con<mark>ference</mark>"


def test_everything_else_is_escaped():
    marked = highlight('<script>alert("budget")</script> & Budget', ["budget"])
    assert marked == ('&lt;script&gt;alert(&#34;<mark>budget</mark>&#34;)&lt;/script&gt; &amp; <mark>Budget</mark>')
    assert "<script>" not in highlight("<script>x</script>", ["x"])


def test_snippet_is_a_window_around_the_first_match():
    text = "Lorem ipsum " * 30 + "the budget numbers are final " + "dolor sit amet " * 30
    shown = snippet(text, ["budget"])
    assert "<mark>budget</mark> numbers" in shown
    assert shown.startswith("… ") and shown.endswith(" …")
    assert len(shown) < 220
    assert snippet(text, ["nothing"]) is None
