"""The one PDF path (village_grid/pdf.py): every font embedded, Chinese that reads back."""

from __future__ import annotations

from flask import render_template_string

from tests.pdftools import pdf_fonts, pdf_info, pdf_pages, pdf_text, requires_poppler
from village_grid.pdf import render_pdf

PAGE = """{% extends "pdf_base.html" %}
{% block title %}侯官村 防汛排查{% endblock %}
{% block content %}<h1 class="doc-title">侯官村 防汛排查</h1><p>第1网格 1小队 <b>需要帮助</b> HG-01-01-03</p>
{% for i in range(pages) %}<p style="break-before: page">第{{ i + 2 }}页</p>{% endfor %}{% endblock %}"""


@requires_poppler
def test_every_font_is_embedded_and_the_chinese_reads_back():
    pdf = render_pdf(render_template_string(PAGE, pages=2))
    fonts = pdf_fonts(pdf)
    assert fonts and all(f["emb"] and f["sub"] for f in fonts), fonts
    assert not any("STSong" in f["name"] for f in fonts)
    text = pdf_text(pdf)
    assert "侯官村 防汛排查" in text and "第1网格 1小队 需要帮助 HG-01-01-03" in text
    assert "1/3" in text.replace(" ", "")  # the footer's page numbers
    assert pdf_pages(pdf) == 3


@requires_poppler
def test_nothing_outside_the_page_is_fetched(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("不该出现")
    html = f'<html><body><p>正文</p><img src="{secret.as_uri()}" alt=""><iframe src="http://127.0.0.1:9/"></iframe></body></html>'
    text = pdf_text(render_pdf(html))
    assert "正文" in text and "不该出现" not in text


@requires_poppler
def test_a_title_is_set_when_the_page_has_none():
    pdf = render_pdf("<html><body><p>正文</p></body></html>", title="门牌：侯官村")
    assert "门牌：侯官村" in pdf_info(pdf)
    assert "A4" in pdf_info(render_pdf(render_template_string(PAGE, pages=0)))
