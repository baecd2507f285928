"""cib.xmlio.parse drops every text node as Pacemaker's parser does (pcmk__strip_xml_text):
texts, tails (of elements, comments and processing instructions), CDATA; a comment keeps
its content. Expected trees written by hand from that rule."""

from __future__ import annotations

from lxml import etree

from cib.xmlio import parse, strip_text


def test_texts_tails_and_cdata_go_comments_stay() -> None:
    root = parse('<cib a="1">text <x>inner é</x>tail<!-- note -->after-comment'
                 '<?pi data?>after-pi<![CDATA[<raw>]]><y> </y></cib>')
    assert etree.tostring(root, encoding="unicode") == (
        '<cib a="1"><x/><!-- note --><?pi?><y/></cib>')


def test_a_subtree_is_stripped_alone() -> None:
    document = etree.fromstring("<a>keep<b>x<c>y</c>z</b>tail-of-b</a>")
    inner = document.find("b")
    assert inner is not None
    strip_text(inner)
    assert etree.tostring(document, encoding="unicode") == "<a>keep<b><c/></b></a>"


def test_a_tree_without_text_is_unchanged() -> None:
    text = '<cib><configuration><crm_config/></configuration><!--c--><status/></cib>'
    assert etree.tostring(parse(text), encoding="unicode") == text
